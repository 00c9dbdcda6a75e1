"""Keywords: a handful of key phrases per article by YAKE, with the stopwords of the article's language."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from functools import cache
from importlib import resources

import yake

from core.records import Article
from tasks.enrich.dateline import agency_code
from tasks.enrich.yakerank import key_phrases

logger = logging.getLogger(__name__)

MAX_KEYWORDS = 8
# YAKE costs 20-45 ms (median) on the first 3,000 characters, 50-80 ms and up to 600 ms on whole
# articles; news puts what matters first, and YAKE's own position feature weighs early mentions most.
# (The lean implementation in tasks.enrich.yakerank costs a few ms; the sample bounds the worst case.)
SAMPLE_CHARS = 3000
MAX_WORDS_PER_PHRASE = 3
_CANDIDATES = 24  # YAKE's top candidates, filtered down to MAX_KEYWORDS below
# langdetect's code -> the name of YAKE's stopword list where they differ.
_STOPWORD_LISTS = {"cs": "cz"}
# YAKE ships two lists in legacy 8-bit encodings (and decodes them wrongly itself, printing a warning).
_LIST_ENCODINGS = {"lt": "cp1257", "sk": "cp1250"}
# Scripts written without spaces: YAKE's tokenizer would return whole clauses as "words".
_UNSEGMENTED = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_TERMINAL = tuple(".!?:;…\"'»«“”")
_LETTER = re.compile(r"[^\W\d_]")


@cache
def stopwords(language: str | None) -> frozenset[str] | None:
    """Load YAKE's stopword list for a language, from the files the package ships.

    Args:
        language: ISO 639-1 code.

    Returns:
        The stopwords, or None where YAKE has no list for the language.
    """
    if not language:
        return None
    name = _STOPWORD_LISTS.get(language, language)
    resource = resources.files(yake).joinpath("core", "StopwordsList", f"stopwords_{name}.txt")
    if not re.fullmatch(r"[a-z]{2}", name) or not resource.is_file():
        return None
    words = resource.read_text(encoding=_LIST_ENCODINGS.get(name, "utf-8")).lower().split()
    return frozenset(words) or None


def _prepare(title: str | None, text: str) -> str:
    # YAKE joins lines with a space, gluing each sub-heading to the next sentence: end every line that
    # lacks it with a full stop, so headings and paragraphs stay sentences of their own.
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and " " in sample:
        sample = sample.rsplit(" ", 1)[0]  # never a half word at the cut
    lines = [line.strip() for line in ([title] if title else []) + sample.splitlines()]
    return " ".join(line if line.endswith(_TERMINAL) else f"{line}." for line in lines if line)


def _same_word(left: str, right: str) -> bool:
    # Usyk/Usyks, Soldat/Soldaten: an inflection ending is not a new keyword.
    short, long = sorted((left, right), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short) and len(long) - len(short) <= 2)


def _overlaps(words: list[str], chosen: list[list[str]]) -> bool:
    for other in chosen:
        shared = sum(1 for word in words if any(_same_word(word, seen) for seen in other))
        if shared * 2 >= min(len(words), len(other)):
            return True
    return False


def _acceptable(phrase: str, language: str | None) -> bool:
    words = phrase.split()
    if any(not _LETTER.search(word) for word in words):
        return False  # "2024-10", "12.000": numbers are no topic
    if len(words) == 1 and agency_code(phrase) not in (None, "press-release"):
        return False  # the dateline's credit ("dpa") is no topic either
    # German capitalises its nouns: a phrase should end in one, and start with one unless it is an
    # adjective before its noun; this drops YAKE's verb fragments ("Feuerwehr kämpft").
    return language != "de" or (words[-1][0].isupper() and (len(words) <= 2 or words[0][0].isupper()))


def extract_keywords(text: str | None, language: str | None, title: str | None = None) -> tuple[str, ...]:
    """Extract up to ``MAX_KEYWORDS`` key phrases, best first.

    Uses the stopword list of ``language`` where YAKE ships one; other languages get no stopwords and
    single words only (phrases would start and end in function words); Chinese, Japanese, Thai and
    other unsegmented scripts get none, as YAKE cannot split them into words.

    Args:
        text: Article text (only the first ``SAMPLE_CHARS`` characters are read).
        language: ISO 639-1 code, or None/``und``.
        title: The headline, read as the text's first sentence.

    Returns:
        Key phrases as written in the text, unique ignoring case and inflection endings.
    """
    if not text or language in _UNSEGMENTED:
        return ()
    words = stopwords(language)
    # Without a list of its own, yake.KeywordExtractor fell back to the list named by the code's first
    # two letters (English for no language), else to none: the same here, to rank as it did.
    stop = words or stopwords((language or "en")[:2].lower()) or frozenset()
    found: list[str] = []
    chosen: list[list[str]] = []
    for phrase in key_phrases(_prepare(title, text), stop, MAX_WORDS_PER_PHRASE if words else 1, _CANDIDATES):
        folded = phrase.casefold().split()
        if not _acceptable(phrase, language) or _overlaps(folded, chosen):
            continue
        found.append(phrase)
        chosen.append(folded)
        if len(found) == MAX_KEYWORDS:
            break
    return tuple(found)


def enrich(article: Article) -> Article:
    """Set ``keywords`` from the title and text, in the language the language enricher found.

    Args:
        article: The article (``language`` set, or ``declared_language`` as a fallback).

    Returns:
        The article with its keywords.
    """
    language = article.language if article.language not in (None, "und") else article.declared_language
    return replace(article, keywords=extract_keywords(article.text, language, article.title))
