"""Quotes: direct quotes in the article text with their character positions, one paragraph at most."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from core.records import Article, Quote

logger = logging.getLogger(__name__)

# Opening mark -> the marks that may close it. Guillemets point either way: « … » (French, Swiss, dpa)
# and » … « (German books and magazines); „ closes with “ in German and ” in Polish or Hungarian.
# English single quotes ‘…’ are left out: their closing mark is the apostrophe, so "don’t" would
# end a quote.
PAIRS: dict[str, str] = {
    "«": "»",
    "»": "«",
    "„": "“”",
    "“": "”",
    '"': '"',
    "‚": "‘",
    "‹": "›",
    "›": "‹",
    "「": "」",  # Japanese and traditional Chinese
    "『": "』",
}
# A quote longer than this is taken for a stray mark: long enough for a few sentences of speech,
# short enough that an unbalanced mark never swallows a paragraph's worth of reporting.
MAX_QUOTE_CHARS = 1200
_OPENER = re.compile("[" + re.escape("".join(PAIRS)) + "]")
# Per opener: the marks that matter while looking for its close, and the paragraph end.
_SCANNER = {
    opener: re.compile("[" + re.escape(opener + closers) + "\n]") for opener, closers in PAIRS.items()
}
_BEFORE_STRAIGHT_OPENER = "([{—–-/:»«„“”‚‘‹›'"
# German »…« and ›…‹ sit tight against their words, French « … » takes spaces inside: so a » (or ›)
# followed by a space is a French closing mark, never a German opening one.
_TIGHT_OPENERS = "»›"


def _may_open_straight(text: str, index: int) -> bool:
    # A straight quote opens at a word's start: not after a digit (27" screen) or inside a word.
    before = text[index - 1] if index else " "
    after = text[index + 1 : index + 2]
    return (before.isspace() or before in _BEFORE_STRAIGHT_OPENER) and bool(after) and not after.isspace()


def _may_close_straight(text: str, index: int) -> bool:
    before = text[index - 1]
    after = text[index + 1 : index + 2]
    return not before.isspace() and not after.isalnum()


def _continues_next_paragraph(text: str, newline: int, opener: str) -> bool:
    # Journalistic convention for a quote over several paragraphs: no closing mark at the end of a
    # paragraph, and the next paragraph opens with the same mark again.
    rest = text[newline : newline + 20].lstrip()
    return rest.startswith(opener)


def _find_close(text: str, start: int) -> tuple[int, int] | None:
    """Find where the quote opened at ``start`` ends: ``(end of its text, where to resume)``."""
    opener = text[start]
    closers = PAIRS[opener]
    scanner = _SCANNER[opener]
    limit = min(len(text), start + 1 + MAX_QUOTE_CHARS)
    depth = 0
    position = start + 1
    while match := scanner.search(text, position, limit):
        index = match.start()
        mark = text[index]
        position = index + 1
        if mark == "\n":
            return (index, index) if _continues_next_paragraph(text, index, opener) else None
        if opener == '"':
            if _may_close_straight(text, index):
                return index, index + 1
            if _may_open_straight(text, index):
                return None  # a second opening quote: the first one was never closed
        elif mark in closers:
            if opener in _TIGHT_OPENERS and text[index - 1].isspace():
                continue  # « preceded by a space opens a French quote, it does not close »…«
            if depth == 0:
                return index, index + 1
            depth -= 1
        else:  # the same opening mark again: a nested quote of the same kind
            depth += 1
    return None


def find_quotes(text: str | None) -> tuple[Quote, ...]:
    """Find the direct quotes in a text.

    Nested quotes (‚…‘ inside „…“) are part of the outer quote. A quote ends at its paragraph: an
    unclosed mark is skipped, never allowed to run on, except where the next paragraph opens with the
    same mark (a quote over several paragraphs, recorded one paragraph at a time). Quotes of a
    single word («Terror») are kept: they are mostly a speaker's own word, and dropping them is a
    one-line filter downstream whereas restoring them is impossible.

    Args:
        text: Article text.

    Returns:
        Quotes in order, numbered from 1; ``text[quote.start:quote.end] == quote.text`` holds: the
        quote's text without its marks and the space inside them (« Oui »).
    """
    if not text:
        return ()
    quotes: list[Quote] = []
    position = 0
    while match := _OPENER.search(text, position):
        start = match.start()
        found = None
        opener = text[start]
        if opener == '"':
            found = _find_close(text, start) if _may_open_straight(text, start) else None
        elif opener not in _TIGHT_OPENERS or not text[start + 1 : start + 2].isspace():
            found = _find_close(text, start)
        if found is None:
            position = start + 1
            continue
        close, position = found
        inner = text[start + 1 : close]
        first = start + 1 + len(inner) - len(inner.lstrip())
        last = close - (len(inner) - len(inner.rstrip()))
        if any(ch.isalnum() for ch in text[first:last]):
            quotes.append(Quote(len(quotes) + 1, text[first:last], first, last))
    return tuple(quotes)


def enrich(article: Article) -> Article:
    """Set ``quotes`` from the article text.

    Args:
        article: The article.

    Returns:
        The article with its quotes.
    """
    return replace(article, quotes=find_quotes(article.text))
