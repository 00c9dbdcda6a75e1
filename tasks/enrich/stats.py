"""Reading stats: word and paragraph counts, reading time and a content hash of the normalised text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from core.records import Article

WORDS_PER_MINUTE = 230  # a common adult silent-reading rate for news prose
# Chinese and Japanese are read at roughly 255 and 357 characters a minute (Trauzettel-Klosinski & Dietz,
# 2012, IReST): 300 sits between them and keeps reading time honest for text counted by character.
CJK_CHARS_PER_MINUTE = 300
_WORD = re.compile(r"\w+")
# Han ideographs and Japanese kana: scripts written without spaces between words, counted per character
# as word processors do. Hangul is left out on purpose: Korean separates its words with spaces.
_CJK = re.compile(
    "[\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Katakana, its phonetic extensions and half-width forms
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs: extension A, unified, compatibility
    "\U00020000-\U0002fa1f]"  # ideograph extensions B-F and compatibility supplement
)


def count_cjk_characters(text: str | None) -> int:
    """Count Han ideographs and kana, the characters of scripts written without word spaces.

    Args:
        text: Any text.

    Returns:
        The number of such characters.
    """
    return len(_CJK.findall(text)) if text else 0


def count_words(text: str | None) -> int:
    """Count words: runs of letters/digits, plus one per Chinese or Japanese character.

    Chinese and Japanese put no spaces between words, so a whole sentence would be one run of letters;
    counting each ideograph or kana as a word is the convention of word processors (Word, Google Docs)
    and makes CJK counts comparable with each other, though not with alphabetic word counts.

    Args:
        text: Any text.

    Returns:
        The word count.
    """
    if not text:
        return 0
    cjk = count_cjk_characters(text)
    if not cjk:
        return len(_WORD.findall(text))
    return cjk + len(_WORD.findall(_CJK.sub(" ", text)))


def count_paragraphs(text: str | None) -> int:
    """Count paragraphs: non-blank lines, as extraction writes one paragraph or sub-heading per line.

    Args:
        text: Article text.

    Returns:
        The number of non-blank lines.
    """
    return sum(1 for line in text.splitlines() if line.strip()) if text else 0


def reading_time_min(text: str | None) -> float:
    """Estimate reading time, CJK characters at their own reading rate and other words at 230 a minute.

    Args:
        text: Article text.

    Returns:
        Minutes, rounded to two decimals.
    """
    if not text:
        return 0.0
    cjk = count_cjk_characters(text)
    other_words = count_words(text) - cjk
    return round(other_words / WORDS_PER_MINUTE + cjk / CJK_CHARS_PER_MINUTE, 2)


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
    """Set ``word_count``, ``paragraph_count``, ``reading_time_min`` and ``content_hash``.

    ``paywalled`` is left alone: extraction sets it from the page's JSON-LD.

    Args:
        article: The article.

    Returns:
        The article with its reading stats.
    """
    return replace(
        article,
        word_count=count_words(article.text),
        paragraph_count=count_paragraphs(article.text),
        reading_time_min=reading_time_min(article.text),
        content_hash=content_hash(article.text),
    )
