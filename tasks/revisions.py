"""Revisions: when a stored article is due again, and whether its later version is a real change (pure)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from core.records import Change, Recheck
from tasks.wirecopy import similarity, tokenize

# Below this estimated containment of the old body in the new one the text counts as rewritten, not
# edited (the summary says so); the wire-copy threshold, for the same reason.
REWRITTEN_BELOW = 0.5

# How newsrooms head a correction or update note, in the languages we detect. A note starts its
# paragraph with one of these and a colon or dash (after an optional date or star), or ends it in
# brackets; the words alone in running text ("the update of the law") are no note.
_MARKERS = (
    r"corrections?|correction appended|updated?|clarification|editor'?s note|"
    r"korrektur|berichtigung|richtigstellung|aktualisierung|aktualisiert|anmerkung der redaktion|"
    r"rectificatif|correctif|mise à jour|précision|erratum|"
    r"corrección|fe de errores|actualización|aclaración|"
    r"correzione|rettifica|aggiornamento|errata corrige"
)
_NOTE_START = re.compile(rf"^\W{{0,3}}(?:{_MARKERS})\b[^.:\n]{{0,40}}?\s*[:–—-]", re.IGNORECASE)
_NOTE_END = re.compile(
    rf"(?:[(\[]\s*(?:{_MARKERS})\b[^)\]]{{0,80}}[)\]]"
    r"|an earlier version of this (?:article|story)[^.]*"
    r"|this (?:article|story) (?:has been|was) (?:corrected|updated)[^.]*"
    r"|in einer früheren version[^.]*|dieser (?:artikel|beitrag) wurde (?:korrigiert|berichtigt|aktualisiert)[^.]*"
    r"|une version précédente de cet article[^.]*|cet article a été (?:corrigé|rectifié|mis à jour)[^.]*"
    r"|una versión anterior de (?:este|esta) (?:artículo|noticia)[^.]*"
    r"|una versione precedente di quest[oa] (?:articolo|notizia)[^.]*"
    r")\W*$",
    re.IGNORECASE,
)
# A redirect to a path this much shorter (or to the site's front page) is a section page, not a move.
_SECTION_PATH_SHARE = 0.5
REMOVED_STATUSES = (404, 410)


def next_due(first_seen_at: datetime, checks: int, ages: Sequence[float], now: datetime) -> datetime | None:
    """When an article is due for its next re-check, skipping ages that passed while no run came.

    Args:
        first_seen_at: When it was first stored.
        checks: Re-checks made so far.
        ages: The ``recheck_after`` setting, seconds after ``first_seen_at``.
        now: The current time.

    Returns:
        The next due time; None when no age is left.
    """
    for index in range(checks, len(ages)):
        due = first_seen_at + timedelta(seconds=ages[index])
        if due > now:
            return due
    return None


def recheck_budget(new_entries: int, share: float, minimum: int) -> int:
    """Re-checks a run may make: ``minimum``, or ``share`` of its new articles when that is more."""
    return max(minimum, int(share * new_entries))


def select_rechecks(due: Sequence[Recheck], budget: int, per_host: int) -> list[Recheck]:
    """Take the longest-waiting due re-checks within the run's budget and the cap per host.

    Args:
        due: Due re-checks, any order.
        budget: Re-checks this run at most.
        per_host: Re-checks per host at most (politeness: a host's new articles are fetched too).

    Returns:
        The re-checks to make, oldest due first; the rest wait for a later run.
    """
    taken: list[Recheck] = []
    hosts: Counter[str] = Counter()
    for recheck in sorted(due, key=lambda r: (r.due_at, r.url)):
        if len(taken) >= budget:
            break
        host = (urlsplit(recheck.link).hostname or "").lower()
        if hosts[host] >= per_host:
            continue
        hosts[host] += 1
        taken.append(recheck)
    return taken


def looks_removed(url: str, status: int | None, final_url: str | None) -> bool:
    """Whether a re-check's answer says the article is gone: 404/410, or a redirect to a section page.

    Args:
        url: The link fetched.
        status: The final HTTP status.
        final_url: Where redirects ended.

    Returns:
        True for 404 and 410, and for a redirect to the front page or a much shorter path (a section).
    """
    if status in REMOVED_STATUSES:
        return True
    if not final_url or final_url == url:
        return False
    before, after = urlsplit(url), urlsplit(final_url)
    old_path, new_path = before.path.rstrip("/"), after.path.rstrip("/")
    if not new_path:
        return True  # the front page
    shorter = len(new_path) <= len(old_path) * _SECTION_PATH_SHARE
    fewer = new_path.count("/") < old_path.count("/")
    return shorter or (fewer and old_path.startswith(new_path + "/"))


def normalized_words(text: str | None) -> list[str]:
    """The words that decide whether a text changed: case-folded, without numbers.

    Numbers are what timestamps ("updated 14:32"), view and comment counters and dates change between
    fetches of an unchanged article; a real edit changes words.
    """
    return [token for token in tokenize(text or "") if not any(char.isdigit() for char in token)]


def _paragraphs(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").split("\n") if line.strip()]


def _paragraph_key(paragraph: str) -> str:
    return " ".join(normalized_words(paragraph))


def is_correction_note(paragraph: str) -> bool:
    """Whether a paragraph is a correction or update note (by how such notes are written)."""
    text = unicodedata.normalize("NFKC", paragraph).strip()
    return bool(_NOTE_START.search(text) or _NOTE_END.search(text))


def compare_versions(
    old_title: str | None,
    old_text: str | None,
    new_title: str | None,
    new_text: str | None,
    old_fingerprint: bytes | None = None,
    new_fingerprint: bytes | None = None,
) -> Change | None:
    """Decide whether a later version is a revision, and describe it.

    Args:
        old_title: The stored version's headline.
        old_text: Its text.
        new_title: The later version's headline.
        new_text: Its text.
        old_fingerprint: The stored version's body fingerprint (tasks.wirecopy), if any.
        new_fingerprint: The later version's.

    Returns:
        The change; None when headline and text are the same but for noise (numbers, case, spacing,
        punctuation), or the later version has no text at all (an extraction that failed is no edit).
    """
    if not new_text:
        return None
    title_changed = normalized_words(old_title) != normalized_words(new_title)
    old_words, new_words = normalized_words(old_text), normalized_words(new_text)
    if not title_changed and old_words == new_words:
        return None
    added = removed = 0
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            removed += a1 - a0
        if op in ("replace", "insert"):
            added += b1 - b0
    seen = {_paragraph_key(p) for p in _paragraphs(old_text)}
    new_paragraphs = [p for p in _paragraphs(new_text) if _paragraph_key(p) not in seen]
    correction = any(is_correction_note(p) for p in new_paragraphs)
    rewritten = bool(
        old_fingerprint and new_fingerprint and similarity(old_fingerprint, new_fingerprint) < REWRITTEN_BELOW
    )
    return Change(
        changed_title=title_changed,
        words_added=added,
        words_removed=removed,
        summary=_summary(title_changed, added, removed, correction, rewritten),
        is_correction=correction,
    )


def _summary(title_changed: bool, added: int, removed: int, correction: bool, rewritten: bool) -> str:
    parts = ["headline changed"] if title_changed else []
    if correction:
        parts.append("correction added")
    if rewritten:
        parts.append("text rewritten")
    elif added or removed:
        parts.append(f"+{added}/-{removed} words")
    return "; ".join(parts)


def word_diff(old: str | None, new: str | None) -> list[tuple[str, str]]:
    r"""A word-level diff of two texts, for the terminal.

    Args:
        old: The earlier version.
        new: The later one.

    Returns:
        ``(op, words)`` runs in order: ``=`` kept, ``-`` removed, ``+`` added; line breaks are kept as
        ``\n`` words so paragraphs stay apart.
    """
    old_words = re.findall(r"\n|[^\s]+", old or "")
    new_words = re.findall(r"\n|[^\s]+", new or "")
    runs: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            runs.append(("=", _join(old_words[a0:a1])))
            continue
        if a1 > a0:
            runs.append(("-", _join(old_words[a0:a1])))
        if b1 > b0:
            runs.append(("+", _join(new_words[b0:b1])))
    return runs


def _join(words: list[str]) -> str:
    return " ".join(words).replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n")
