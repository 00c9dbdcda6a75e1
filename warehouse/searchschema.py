"""The search index's schema: one (title, text) field pair per Snowball stemmer, and a shared title field.

Languages without a tantivy stemmer share the unstemmed pair ``none``. An index written with another
schema (an older wirehouse) is told apart here; warehouse/searchwrite.py rebuilds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from tasks.search import NO_STEMMER, SearchError, split_cjk, stemmer_for

# The Snowball stemmers tantivy ships; a language whose stemmer is not among them is indexed unstemmed.
INDEX_STEMMERS: frozenset[str] = frozenset(
    {
        "arabic",
        "danish",
        "dutch",
        "english",
        "finnish",
        "french",
        "german",
        "greek",
        "hungarian",
        "italian",
        "norwegian",
        "portuguese",
        "romanian",
        "russian",
        "spanish",
        "swedish",
        "tamil",
        "turkish",
    }
)
FIELD_GROUPS = sorted(INDEX_STEMMERS | {NO_STEMMER})
# Tokens longer than this are not words (URLs, base64); tantivy would index them whole.
_LONGEST_TOKEN = 40
# Every document's title also goes, unstemmed, into one field shared by all languages. Its BM25 statistics
# (document frequencies, average length) are those of all documents; a stemmer's own fields average their
# lengths over every document of the index too, most of which leave them empty, so a language with few
# documents had its matches crushed by length normalisation (an article of 3 in 1,000 was not in the top
# 200 for its own title; python -m bench.search_titles). Boosted: a title match counts more than the text.
SHARED_TITLE = "title_all"
_MISMATCH = "schema does not match"  # tantivy's error for an index written with another schema
EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)  # tantivy's dates are nanoseconds since 1970 in 64 bits
LATEST = datetime(2262, 1, 1, tzinfo=UTC)


def index_stemmer(language: str | None) -> str:
    """Return the index field group of a language: its stemmer if tantivy has it, else ``none``."""
    stemmer = stemmer_for(language)
    return stemmer if stemmer in INDEX_STEMMERS else NO_STEMMER


def analyzer(stemmer: str) -> Any:
    """Return the tokenizer of a field group: words, folded, stemmed (English also without stopwords)."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(_LONGEST_TOKEN))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stemmer == "english":
        builder = builder.filter(tantivy.Filter.stopword("english"))
    if stemmer != NO_STEMMER:
        builder = builder.filter(tantivy.Filter.stemmer(stemmer))
    return builder.build()


def index_schema() -> Any:
    """Return the schema every index is written with (another schema is an outdated index)."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("url", stored=True, tokenizer_name="raw")
    builder.add_text_field("lang", tokenizer_name="raw")
    builder.add_text_field("stemmer", stored=True, tokenizer_name="raw")
    builder.add_date_field("seen", indexed=True, fast=True)
    for stemmer in FIELD_GROUPS:
        builder.add_text_field(f"title_{stemmer}", tokenizer_name=f"wirehouse_{stemmer}")
        builder.add_text_field(f"text_{stemmer}", tokenizer_name=f"wirehouse_{stemmer}")
    builder.add_text_field(SHARED_TITLE, tokenizer_name=f"wirehouse_{NO_STEMMER}")
    return builder.build()


def open_index(folder: Path, *, create: bool) -> Any:
    """Open the index with the current schema (creating it if ``create``); see :func:`open_reader`."""
    return open_reader(folder, create=create)[0]


def open_reader(folder: Path, *, create: bool = False) -> tuple[Any, bool]:
    """Open the index; tell whether it has the current schema (only when not ``create``, it may not)."""
    if not create and not (folder.is_dir() and tantivy.Index.exists(str(folder))):
        raise SearchError("no search index yet: run an ingest, or build it with `wirehouse search --rebuild`")
    current = True
    try:
        folder.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(index_schema(), path=str(folder), reuse=True)
    except (OSError, ValueError) as exc:
        if create or _MISMATCH not in str(exc):
            raise SearchError(f"cannot open the search index {folder}: {exc}") from exc
        # Written by an older wirehouse and not rebuilt yet (its writer was busy): read it as it is.
        index, current = tantivy.Index.open(str(folder)), False
    for stemmer in FIELD_GROUPS:
        index.register_tokenizer(f"wirehouse_{stemmer}", analyzer(stemmer))
    return index, current


def is_outdated(folder: Path) -> bool:
    """Tell whether the folder holds an index of another schema (an older wirehouse's): it is rebuilt."""
    if not (folder.is_dir() and tantivy.Index.exists(str(folder))):
        return False
    try:
        tantivy.Index(index_schema(), path=str(folder), reuse=True)
    except (OSError, ValueError) as exc:  # any other failure is told by whoever opens it next
        return _MISMATCH in str(exc)
    return False


def primary_language(language: str | None) -> str:
    """Return the primary subtag of a language code (``pt-BR`` -> ``pt``; none -> ``und``)."""
    return (language or "und").split("-")[0].lower()


def index_document(
    url: str, title: str | None, text: str | None, language: str | None, seen: datetime
) -> Any:
    """Build the index document of an extracted article: its stemmer's fields and the shared title."""
    stemmer = index_stemmer(language)
    return tantivy.Document(
        url=url,
        lang=primary_language(language),
        stemmer=stemmer,
        seen=min(max(seen, EARLIEST), LATEST),
        **{
            f"title_{stemmer}": split_cjk(title or ""),
            f"text_{stemmer}": split_cjk(text or ""),
            SHARED_TITLE: split_cjk(title or ""),
        },
    )


def index_exists(folder: Path) -> bool:
    """An index of the current schema is there (an outdated one counts as none: it is rebuilt)."""
    return folder.is_dir() and tantivy.Index.exists(str(folder)) and not is_outdated(folder)
