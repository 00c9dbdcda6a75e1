"""Revisions, the pure half: due times, the budget, what a real change is, corrections and removals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.records import Recheck
from tasks.revisions import (
    compare_versions,
    is_correction_note,
    looks_removed,
    next_due,
    select_rechecks,
    word_diff,
)

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
BODY = (
    "Der Stadtrat hat den Haushalt beschlossen.\nDie Opposition kritisierte die Ausgaben für den Straßenbau."
)


def recheck(url: str, due_minutes: int) -> Recheck:
    return Recheck(
        url, None, url, None, T0, 0, T0 + timedelta(minutes=due_minutes), None, None, "t", BODY, None, 0
    )


def test_ages_count_from_the_first_fetch_and_passed_ones_are_skipped():
    ages = (3600.0, 6 * 3600.0, 24 * 3600.0)
    assert next_due(T0, 0, ages, T0) == T0 + timedelta(hours=1)
    assert next_due(T0, 1, ages, T0 + timedelta(hours=1)) == T0 + timedelta(hours=6)
    assert next_due(T0, 1, ages, T0 + timedelta(hours=7)) == T0 + timedelta(hours=24)  # a late run
    assert next_due(T0, 3, ages, T0 + timedelta(hours=25)) is None
    assert next_due(T0, 0, (), T0) is None


def test_selection_takes_the_longest_waiting_within_budget_and_host_cap():
    due = [recheck(f"http://a.example/{n}", n) for n in range(5)] + [recheck("http://b.example/x", 10)]
    picked = select_rechecks(due, budget=3, per_host=2)
    assert [r.url for r in picked] == ["http://a.example/0", "http://a.example/1", "http://b.example/x"]
    assert select_rechecks(due, budget=0, per_host=2) == []


@pytest.mark.parametrize(
    "old, new",
    [
        ("Aktualisiert: 14:32 Uhr\n" + BODY, "Aktualisiert: 16:05 Uhr\n" + BODY),  # a timestamp
        (BODY + "\n1.234 Mal gelesen", BODY + "\n1.377 Mal gelesen"),  # a view counter
        (BODY, BODY.replace("Haushalt", "HAUSHALT ")),  # case and spacing
        (BODY, BODY + "\n07.12.2026, 16:05"),  # only a date and time added
    ],
)
def test_noise_is_no_change(old, new):
    assert compare_versions("Haushalt", old, "Haushalt", new) is None


def test_a_headline_rewrite_and_an_added_paragraph_are_changes():
    headline = compare_versions("Rat beschließt Haushalt", BODY, "Stadtrat verabschiedet Sparhaushalt", BODY)
    assert (
        headline is not None
        and headline.changed_title
        and (headline.words_added, headline.words_removed) == (0, 0)
    )
    added = compare_versions("H", BODY, "H", BODY + "\nDie Abstimmung fiel knapp aus.")
    assert added is not None and not added.changed_title and not added.is_correction
    assert (added.words_added, added.words_removed) == (5, 0) and added.summary == "+5/-0 words"
    assert compare_versions("H", BODY, "H", None) is None  # an extraction that failed is no edit


@pytest.mark.parametrize(
    "note",
    [
        "Correction: An earlier version of this article misstated the date.",
        "Update (14:30): The police have named the suspect.",
        "Korrektur: In einer früheren Version hieß es, der Rat habe einstimmig entschieden.",
        "Berichtigung – der Betrag lautet 3 Millionen Euro.",
        "Rectificatif : une version précédente de cet article indiquait une autre date.",
        "Corrección: el pleno votó el martes, no el lunes.",
        "Correzione: il voto si è tenuto martedì.",
        "Der Rat tagte am Dienstag. (Aktualisiert am 7. Dezember um 16 Uhr)",
        "The vote was on Tuesday. This article has been corrected to show the right day.",
    ],
)
def test_correction_notes_are_recognised_by_how_they_are_written(note):
    assert is_correction_note(note)
    change = compare_versions("H", BODY, "H", BODY + "\n" + note)
    assert change is not None and change.is_correction


@pytest.mark.parametrize(
    "text",
    [
        "The update of the law was passed on Tuesday.",
        "Die Korrektur der Zahlen durch das Amt dauerte Wochen.",
        "Une correction des prix est attendue.",
    ],
)
def test_the_words_in_running_text_are_no_note(text):
    assert not is_correction_note(text)


def test_removal_is_404_410_or_a_redirect_to_a_section_page():
    url = "https://news.example/politik/2026/12/07/rat-beschliesst-haushalt.html"
    assert looks_removed(url, 410, url) and looks_removed(url, 404, url)
    assert looks_removed(url, 200, "https://news.example/politik/")
    assert looks_removed(url, 200, "https://news.example/")
    assert not looks_removed(
        url, 200, "https://news.example/politik/2026/12/07/rat-beschliesst-sparhaushalt.html"
    )
    assert not looks_removed(url, 200, url) and not looks_removed(url, 304, None)


def test_word_diff_marks_removed_and_added_runs():
    assert word_diff("a b c", "a x c d") == [("=", "a"), ("-", "b"), ("+", "x"), ("=", "c"), ("+", "d")]
