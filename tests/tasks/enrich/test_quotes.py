from pathlib import Path

import pytest

from core.records import Quote
from tasks.enrich.quotes import MAX_QUOTE_CHARS, enrich, find_quotes
from tests.support.factories import make_article

SEED = Path(__file__).resolve().parents[4] / "shared" / "seed"


def texts(text):
    return [quote.text for quote in find_quotes(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sie sagte: «Wir bleiben hier.» Dann ging sie.", ["Wir bleiben hier."]),
        ("Er meinte: »Das reicht nicht.« Alle schwiegen.", ["Das reicht nicht."]),
        ("„Wir sind bereit“, sagte der Minister.", ["Wir sind bereit"]),
        ('"We are ready," the minister said.', ["We are ready,"]),
        ("“We are ready,” the minister said.", ["We are ready,"]),
        ("Sie nannte es ‚unfair‘ und ging.", ["unfair"]),
        ("Il a dit ‹ non › hier.", ["non"]),
        ("Il a déclaré : « Nous restons unis », avant de partir.", ["Nous restons unis"]),
        (
            "Il a déclaré : «\u00a0Nous restons unis\u00a0», puis\u202f: «\u202fmerci\u202f».",
            ["Nous restons unis", "merci"],
        ),
        ("Polnisch: „Jesteśmy gotowi” – powiedział.", ["Jesteśmy gotowi"]),
        ("首相は「対話を続ける」と述べた。", ["対話を続ける"]),
        ("Erst «eins», dann „zwei“ und “three”.", ["eins", "zwei", "three"]),
    ],
)
def test_quote_marks(text, expected):
    assert texts(text) == expected


def test_positions_point_at_the_quote_text():
    text = "Vorab.\nDie Ministerin sagte: «Wir prüfen das.» Und: «Später mehr.»"
    quotes = find_quotes(text)
    assert [q.ordinal for q in quotes] == [1, 2]
    for quote in quotes:
        assert text[quote.start : quote.end] == quote.text
        assert text[quote.start - 1] == "«" and text[quote.end] == "»"


def test_nested_quotes_give_the_outer_quote():
    text = "„Er hat ‚nie‘ gesagt, dass es einfach wird“, betonte sie."
    assert texts(text) == ["Er hat ‚nie‘ gesagt, dass es einfach wird"]
    english = "“She told me ‘never’ twice,” he said."
    assert texts(english) == ["She told me ‘never’ twice,"]
    same_kind = "«Er rief «Halt» und lief weiter», sagte der Zeuge."
    assert texts(same_kind) == ["Er rief «Halt» und lief weiter"]


def test_unclosed_mark_never_crosses_a_paragraph():
    text = "Er sagte: «Das ist der Anfang ohne Ende.\nZweiter Absatz mit «echtem Zitat» darin."
    assert texts(text) == ["echtem Zitat"]
    assert all("\n" not in quote.text for quote in find_quotes(text))


def test_stray_opening_mark_does_not_pair_with_a_later_quote():
    text = "Der Titel „Alles neu lautet vorläufig. Später sagte sie „Wir warten“ dazu."
    assert texts(text) == ["Wir warten"]
    straight = 'He said "maybe and then "no" to everything.'
    assert texts(straight) == ["no"]


def test_quote_over_several_paragraphs_is_kept_per_paragraph():
    text = "“This is the first part of a long statement.\n\n“And this is how it ends,” she said."
    assert texts(text) == ["This is the first part of a long statement.", "And this is how it ends,"]


def test_overlong_quote_is_ignored():
    text = "«" + "Wort " * (MAX_QUOTE_CHARS // 5 + 10) + "» Ende. Danach «kurz»."
    assert texts(text) == ["kurz"]


def test_straight_quotes_are_not_inches_or_apostrophes():
    assert texts('Der 27" Monitor kostet 300 Euro, sagte er.') == []
    assert texts("It's the team's best season.") == []


def test_empty_marks_and_single_words():
    assert texts("Leere «» oder „ “ Zeichen.") == []
    assert texts("Er warnte vor weiterem «Chaos».") == ["Chaos"]  # one word: kept (see module docstring)
    assert find_quotes(None) == () and find_quotes("") == ()


def test_enrich_sets_quotes():
    article = make_article("Sie sagte: «Wir bleiben hier.»")
    assert enrich(article).quotes == (Quote(1, "Wir bleiben hier.", 12, 29),)


@pytest.mark.skipif(not SEED.is_dir(), reason="needs ../shared/seed")
def test_seed_story_quotes():
    text = next(SEED.glob("*.txt")).read_text(encoding="utf-8")
    quotes = find_quotes(text)
    assert len(quotes) == 5
    assert quotes[-1].text == "Terror"
    assert quotes[1].text.startswith("ein Zeichen")
    for quote in quotes:
        assert text[quote.start : quote.end] == quote.text
        assert text[quote.start - 1] == "«" and text[quote.end] == "»"
