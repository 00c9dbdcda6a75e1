"""Search, the pure half: stemmers per language, query terms and snippets (the index is in warehouse/search.py)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from core.errors import PermanentError

# ISO 639-1 code -> Snowball stemmer name. Languages whose stemmer tantivy does not ship (see INDEX_STEMMERS
# in warehouse/searchschema.py), every other language and `und` go to the unstemmed fields "none".
# This dict is the closed set the index's field names come from.
STEMMERS: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
NO_STEMMER = "none"
ALL_STEMMERS: frozenset[str] = frozenset(STEMMERS.values()) | {NO_STEMMER}
MAX_LIMIT = 1000
SNIPPET_WIDTH = 200


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+")
# Snippet tokens: words, but each Chinese/Japanese character alone (as in the index).
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)
# A stem marks a longer word only with an inflection-sized ending ("soldat" marks "Soldaten", not
# "Soldatenfriedhof").
MAX_ENDING = 3


class SearchError(PermanentError):
    """Search cannot run (no index, an index it cannot write, bad arguments); the message is meant for the user."""


@dataclass(frozen=True)
class SearchIndexStats:
    """What a rebuild of the search index did."""

    rows: int  # articles indexed
    by_stemmer: dict[str, int]  # articles per index (stemmer name -> rows)
    seconds: float


@dataclass(frozen=True)
class SearchHit:
    """One search result."""

    url: str
    title: str | None
    source: str  # site name, else the feed URL
    published_at: datetime | None
    language: str | None
    score: float  # BM25; comparable within one language's index, only roughly across them
    snippet: str


# --------------------------------------------------------------------------- pure functions


def stemmer_for(language: str | None) -> str:
    """Return the stemmer of a language code (``de``, ``pt-BR``, ``und``, None ...); ``none`` if there is none."""
    primary = (language or "und").split("-")[0].lower()
    return STEMMERS.get(primary, NO_STEMMER)


def _fold(word: str) -> str:
    """Case-fold and strip accents, as the index does (``Bürger`` -> ``burger``)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def split_cjk(text: str) -> str:
    """Put spaces around each Chinese/Japanese character, so each is a token of its own."""
    return _CJK.sub(lambda m: f" {m.group(0)} ", text)


def query_terms(query: str) -> list[str]:
    """Return the words of a query (what the index tokenizer would see), in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(split_cjk(query).replace("_", " ")):
        seen.setdefault(word, None)
    return list(seen)


def _matches(word: str, terms: Sequence[str]) -> bool:
    """Tell whether a folded word matches a folded term: same word, or the term (a stem) plus an ending."""
    return any(
        word == term or (len(term) >= 3 and word.startswith(term) and len(word) - len(term) <= MAX_ENDING)
        for term in terms
    )


def make_snippet(text: str | None, terms: Iterable[str], width: int = SNIPPET_WIDTH) -> str:
    """Cut a window of about ``width`` characters around the first matched term, matches in ``**…**``.

    Matching ignores case and accents; a term of three or more characters also matches a word that
    is the term plus at most MAX_ENDING characters (the stem ``soldat`` marks ``Soldaten``). Chinese
    and Japanese characters match one by one; adjacent marks merge. Line breaks become spaces.

    Args:
        text: The article text.
        terms: Query words and their stems.
        width: Characters of text in the window (marks and ellipses not counted).

    Returns:
        The window with ``…`` where text was cut; the start of the text when nothing matches.
    """
    flat = " ".join((text or "").split())
    folded_terms = [t for term in terms for t in (_fold(w) for w in _TOKEN.findall(term)) if t]
    words = list(_TOKEN.finditer(flat))
    hits = [m for m in words if _matches(_fold(m.group(0)), folded_terms)]
    if hits:
        first = hits[0]
        start = max(0, first.start() - max(0, width - len(first.group(0))) // 5)
    else:
        start = 0
    end = min(len(flat), start + width)
    start = max(0, min(start, end - width))
    # Cut at word boundaries: move the start to the next word, the end back to the last whole word.
    if start > 0:
        next_word = next((m.start() for m in words if m.start() >= start), start)
        start = next_word if next_word < end else start
    if end < len(flat):
        last_end = max((m.end() for m in words if start < m.end() <= end), default=end)
        end = last_end
    parts: list[str] = ["…"] if start > 0 else []
    cursor = start
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        if parts and m.start() == cursor and parts[-1].endswith("**"):
            parts[-1] = parts[-1][:-2] + m.group(0) + "**"  # merge with the mark just before
        else:
            parts.append(flat[cursor : m.start()])
            parts.append(f"**{m.group(0)}**")
        cursor = m.end()
    parts.append(flat[cursor:end])
    if end < len(flat):
        parts.append("…")
    return "".join(parts).strip()


def as_timestamp(since: date | datetime | None) -> datetime | None:
    """Read a day (UTC midnight) or a time (naive means UTC) as an aware timestamp; None stays None."""
    if since is None:
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    return datetime(since.year, since.month, since.day, tzinfo=UTC)
