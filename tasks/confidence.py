"""How much to trust an extracted body: a 0-1 score from generic signals of the page and the text."""

from __future__ import annotations

import math
import re
from collections.abc import Collection

from tasks.enrich.stats import count_words

# Below this an extracted body is worth a look (`wirehouse stats` and the run report count such pages).
LOW_CONFIDENCE = 0.5
# Words of body at which length stops adding confidence (a short news item is still an article).
FULL_LENGTH_WORDS = 250
# Paragraphs of running text (lines of at least PARAGRAPH_WORDS words) at which structure is convincing.
FULL_PARAGRAPHS = 3
PARAGRAPH_WORDS = 20
# Body characters per page character at which the page is plainly about its text (news pages: 2-10 %).
FULL_TEXT_SHARE = 0.02
# Embedded articleBody long enough to compare with.
AGREEMENT_MIN_WORDS = 50
_BOILERPLATE_START = re.compile(
    r"cookie|consent|newsletter|javascript|log ?in\b|anmelden|registrier|men[uü]\b|navigation|skip to"
    r"|zum inhalt|werbung|advertisement|abonn|subscri|datenschutz|privacy",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def extraction_confidence(
    text: str | None, page_chars: int, link_texts: Collection[str] = (), article_body: str | None = None
) -> float:
    """Score an extracted body from 0 (surely not the article) to 1 (surely the whole article).

    Signals: the body's length, its paragraphs of running text, its share of the page's characters, the
    share of its lines that are the page's link texts (teasers, menus), boilerplate words at its start, and,
    where the page embeds a JSON-LD ``articleBody``, how much of it the body holds.

    Args:
        text: The extracted body (lines separated by newlines).
        page_chars: Characters of the decoded page.
        link_texts: Whitespace-collapsed texts of the page's links.
        article_body: The page's embedded ``articleBody``, if any.

    Returns:
        The confidence, rounded to three places.
    """
    if not text or not text.strip():
        return 0.0
    words = count_words(text)
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    length = min(1.0, math.log1p(words) / math.log1p(FULL_LENGTH_WORDS))
    paragraphs = sum(count_words(line) >= PARAGRAPH_WORDS for line in lines)
    structure = min(1.0, paragraphs / FULL_PARAGRAPHS)
    share = min(1.0, len(text) / max(1, page_chars) / FULL_TEXT_SHARE)
    linked = set(link_texts)
    linked_words = sum(count_words(line) for line in lines if line in linked)
    links = 1.0 - linked_words / max(1, words)
    start = 0.0 if _BOILERPLATE_START.search(text[:200]) else 1.0
    score = 0.25 * length + 0.3 * structure + 0.1 * share + 0.25 * links + 0.1 * start
    if article_body and count_words(article_body) >= AGREEMENT_MIN_WORDS:
        embedded = _shingles(article_body)
        held = len(embedded & _shingles(text)) / len(embedded) if embedded else 0.0
        score = 0.6 * score + 0.4 * held
    return round(max(0.0, min(1.0, score)), 3)
