"""Reading stats: word count, reading time and a content hash of the normalised text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from tasks.records import Article

WORDS_PER_MINUTE = 230  # a common adult silent-reading rate for news prose
_WORD = re.compile(r"\w+")


def count_words(text: str | None) -> int:
    """Count words (runs of letters/digits) in a text."""
    return len(_WORD.findall(text)) if text else 0


def content_hash(text: str | None) -> str | None:
    """Hash the text after case-folding and whitespace normalisation, so trivial reflows hash alike.

    Args:
        text: Article text.

    Returns:
        A hex SHA-256, or None for no text.
    """
    if not text:
        return None
    normalised = " ".join(_WORD.findall(text.casefold()))
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def enrich(article: Article) -> Article:
    """Set ``word_count``, ``reading_time_min`` and ``content_hash``.

    Args:
        article: The article.

    Returns:
        The article with its reading stats.
    """
    words = count_words(article.text)
    return replace(
        article,
        word_count=words,
        reading_time_min=round(words / WORDS_PER_MINUTE, 2),
        content_hash=content_hash(article.text),
    )
