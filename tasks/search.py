"""Full-text search: per-language BM25 indexes (DuckDB FTS, loaded from its wheel) over the articles."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from tasks.load import open_warehouse
from wirehouse.errors import PermanentError

# ISO 639-1 code -> Snowball stemmer of DuckDB's FTS extension. Every other language (and `und`)
# goes to the unstemmed index "none". This dict is the closed set the index table names come from.
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

# Tokens are runs of letters, marks and digits in any script (the extension's default keeps only a-z
# and would drop Greek, Cyrillic, Arabic, Hangul ... entirely); a dot is dropped so "U.S." == "us".
_IGNORE = r"(\.|[^\p{L}\p{M}\p{N}])+"
# Chinese and Japanese have no spaces: each Han/kana character becomes a token of its own (unigrams),
# in the indexed text and in the query alike. The same ranges for DuckDB's RE2 and Python's re.
_CJK_RE2 = r"([\x{3040}-\x{30ff}\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}])"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+")
# Snippet tokens: words, but each Chinese/Japanese character alone (as in the index).
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)
# A stem marks a longer word only with an inflection-sized ending ("soldat" marks "Soldaten", not
# "Soldatenfriedhof").
MAX_ENDING = 3

# --- SQL (values always as parameters; the only interpolated identifiers are index table names built
# by _index_table() from ALL_STEMMERS, and the constant options of the PRAGMA)

_SET_NO_AUTOINSTALL = "SET autoinstall_known_extensions = false"
_SET_NO_AUTOLOAD = "SET autoload_known_extensions = false"
_LANGUAGE_COUNTS = """
SELECT lower(split_part(coalesce(language, 'und'), '-', 1)) AS lang, count(*)
FROM articles WHERE extraction_status = 'ok'
GROUP BY 1
"""
# {table} is _index_table(stemmer); the languages of the stemmer (or, for "none", all languages that
# have a stemmer, negated) come as a parameter.
_CREATE_DOCS = """
CREATE OR REPLACE TABLE {table} AS
SELECT row_number() OVER (ORDER BY url)::INTEGER AS doc_id, url, language,
       regexp_replace(coalesce(title, ''), ?, ' \\1 ', 'g') AS title,
       regexp_replace(coalesce(text, ''), ?, ' \\1 ', 'g') AS text
FROM articles
WHERE extraction_status = 'ok'
  AND list_contains(?, lower(split_part(coalesce(language, 'und'), '-', 1))) = ?
"""
_CREATE_INDEX = (
    "PRAGMA create_fts_index('{table}', 'doc_id', 'title', 'text', stemmer = '{stemmer}', "
    "stopwords = '{stopwords}', ignore = '{ignore}', strip_accents = 1, lower = 1, overwrite = 1)"
)
_EXISTING_INDEX_TABLES = """
SELECT table_name FROM duckdb_tables()
WHERE schema_name = 'main' AND table_name LIKE 'search\\_docs\\_%' ESCAPE '\\'
"""
_DROP_INDEX = "PRAGMA drop_fts_index('{table}')"
_INDEX_EXISTS = "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?"
_DROP_TABLE = "DROP TABLE IF EXISTS {table}"
_CREATE_REGISTRY = """
CREATE TABLE IF NOT EXISTS search_indexes (
    stemmer   VARCHAR PRIMARY KEY,
    docs      BIGINT NOT NULL,
    built_at  TIMESTAMPTZ NOT NULL
)
"""
_CLEAR_REGISTRY = "DELETE FROM search_indexes"
_REGISTER = "INSERT INTO search_indexes VALUES (?, ?, ?)"
_REGISTRY_EXISTS = """
SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'search_indexes'
"""
_BUILT_STEMMERS = "SELECT stemmer FROM search_indexes ORDER BY stemmer"
_SEARCH_BRANCH = "SELECT url, {schema}.match_bm25(doc_id, ?) AS score FROM {table}"
_SEARCH = """
WITH hits AS ({branches})
SELECT a.url, a.title, coalesce(a.site_name, a.feed_url) AS source, a.published_at, a.language,
       h.score, a.text
FROM hits h JOIN articles a ON a.url = h.url
WHERE h.score IS NOT NULL
  AND (?::VARCHAR IS NULL OR lower(split_part(coalesce(a.language, 'und'), '-', 1)) = ?)
  AND (?::TIMESTAMPTZ IS NULL OR coalesce(a.published_at, a.fetched_at) >= ?)
ORDER BY h.score DESC, a.published_at DESC NULLS LAST, a.url
LIMIT ?
"""
_STEM = "SELECT DISTINCT stem(unnest(?::VARCHAR[]), ?)"


class SearchError(PermanentError):
    """Search cannot run (no index, no FTS extension, bad arguments); the message is meant for the user."""


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


def _index_table(stemmer: str) -> str:
    """Return the index table of a stemmer, which must come from the closed set ALL_STEMMERS."""
    if stemmer not in ALL_STEMMERS:
        raise ValueError(f"unknown stemmer {stemmer!r}")
    return f"search_docs_{stemmer}"


def _index_schema(stemmer: str) -> str:
    """Return the schema DuckDB's FTS extension creates for a stemmer's index table."""
    return f"fts_main_{_index_table(stemmer)}"


def _sql_string(value: str) -> str:
    """Quote a string as an SQL literal, for the few statements that take no parameters (LOAD, PRAGMA)."""
    if "\x00" in value:
        raise ValueError("NUL character in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


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


# --------------------------------------------------------------------------- the extension


def fts_extension_path() -> Path:
    """Find the FTS extension file shipped in the ``duckdb-extension-fts`` wheel for this DuckDB.

    Returns:
        The ``fts.duckdb_extension`` file.

    Raises:
        SearchError: The wheel is missing or has no build for this DuckDB version.
    """
    try:
        import duckdb_extension_fts
    except ImportError as exc:
        raise SearchError("full-text search needs the duckdb-extension-fts package") from exc
    folder = Path(duckdb_extension_fts.__file__).parent / "extensions"
    path = folder / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if not path.is_file():
        raise SearchError(f"duckdb-extension-fts has no FTS extension for DuckDB {duckdb.__version__}")
    return path


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the FTS extension from its wheel, and forbid DuckDB to download or auto-load extensions.

    The index's macros call the extension's ``stem()``; on a connection that has not loaded it,
    DuckDB would otherwise try to download ``fts`` from extensions.duckdb.org (over plain HTTP).

    Args:
        con: Any connection (read-only is fine).
    """
    con.execute(_SET_NO_AUTOINSTALL)
    con.execute(_SET_NO_AUTOLOAD)
    # LOAD takes no parameters; the path is our own installation's, validated and quoted.
    con.execute("LOAD " + _sql_string(str(fts_extension_path())))


# --------------------------------------------------------------------------- index and search


def _drop_index_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every search index table (and its FTS schema) whose name comes from ALL_STEMMERS."""
    for (table,) in con.execute(_EXISTING_INDEX_TABLES).fetchall():
        stemmer = str(table).removeprefix("search_docs_")
        if stemmer not in ALL_STEMMERS:
            continue  # not ours: never touch it
        row = con.execute(_INDEX_EXISTS, [_index_schema(stemmer)]).fetchone()
        if row and row[0]:
            con.execute(_DROP_INDEX.format(table=_index_table(stemmer)))
        con.execute(_DROP_TABLE.format(table=_index_table(stemmer)))


def build_search_index(con: duckdb.DuckDBPyConnection) -> SearchIndexStats:
    """Rebuild the search indexes from ``articles`` (extraction_status 'ok'), one per stemmer, atomically.

    Each language with a Snowball stemmer gets its own BM25 index (table ``search_docs_<stemmer>``
    and the FTS schema ``fts_main_search_docs_<stemmer>``); all other languages share ``none``.

    Args:
        con: Read-write connection.

    Returns:
        Rows indexed, per stemmer, and the seconds it took.
    """
    started = time.perf_counter()
    load_fts(con)
    con.execute("BEGIN TRANSACTION")
    try:
        counts: dict[str, int] = {}
        for lang, n in con.execute(_LANGUAGE_COUNTS).fetchall():
            stemmer = stemmer_for(str(lang))
            counts[stemmer] = counts.get(stemmer, 0) + int(n)
        _drop_index_tables(con)
        con.execute(_CREATE_REGISTRY)
        con.execute(_CLEAR_REGISTRY)
        now = datetime.now(UTC)
        for stemmer in sorted(counts):
            table = _index_table(stemmer)
            if stemmer == NO_STEMMER:
                languages, wanted = sorted(STEMMERS), False
            else:
                languages, wanted = sorted(k for k, v in STEMMERS.items() if v == stemmer), True
            con.execute(_CREATE_DOCS.format(table=table), [_CJK_RE2, _CJK_RE2, languages, wanted])
            con.execute(
                _CREATE_INDEX.format(
                    table=table,
                    stemmer=stemmer,
                    stopwords="english" if stemmer == "english" else "none",
                    ignore=_IGNORE.replace("'", "''"),
                )
            )
            con.execute(_REGISTER, [stemmer, counts[stemmer], now])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return SearchIndexStats(sum(counts.values()), counts, time.perf_counter() - started)


def _built_stemmers(con: duckdb.DuckDBPyConnection) -> list[str]:
    row = con.execute(_REGISTRY_EXISTS).fetchone()
    if not row or not row[0]:
        return []
    return [str(r[0]) for r in con.execute(_BUILT_STEMMERS).fetchall() if r[0] in ALL_STEMMERS]


def _as_timestamp(since: date | datetime | None) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    return datetime(since.year, since.month, since.day, tzinfo=UTC)


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    lang: str | None = None,
    since: date | datetime | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Find articles by BM25 over title and text, best first.

    Args:
        con: A connection (read-only is fine) to a warehouse whose index was built.
        query: Words to look for (any of them; more matching words score higher).
        lang: Only articles in this language (ISO 639-1); the query is stemmed for it.
        since: Only articles published (else fetched) at or after this day (UTC) or time.
        limit: At most this many hits (1 to MAX_LIMIT).

    Returns:
        The hits, each with a snippet around the first matching word.

    Raises:
        SearchError: No index yet, or a bad argument.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT}")
    terms = query_terms(query)
    if not terms:
        return []
    load_fts(con)
    built = _built_stemmers(con)
    if not built:
        raise SearchError("no search index yet: build it first (`wirehouse search --rebuild`)")
    wanted_lang = lang.split("-")[0].lower() if lang else None
    stemmers = [s for s in built if wanted_lang is None or s == stemmer_for(wanted_lang)]
    if not stemmers:
        return []
    text_query = " ".join(terms)
    branches = " UNION ALL ".join(
        _SEARCH_BRANCH.format(schema=_index_schema(s), table=_index_table(s)) for s in stemmers
    )
    ts = _as_timestamp(since)
    params = [*([text_query] * len(stemmers)), wanted_lang, wanted_lang, ts, ts, limit]
    rows = con.execute(_SEARCH.format(branches=branches), params).fetchall()
    marks = set(terms)
    for stemmer in stemmers:
        if stemmer != NO_STEMMER:
            marks.update(str(r[0]) for r in con.execute(_STEM, [terms, stemmer]).fetchall() if r[0])
    return [
        SearchHit(
            url=url,
            title=title,
            source=source,
            published_at=published_at,
            language=language,
            score=float(score),
            snippet=make_snippet(text, sorted(marks)),
        )
        for url, title, source, published_at, language, score, text in rows
    ]


# --------------------------------------------------------------------------- Prefect tasks


@task(name="rebuild-search-index", cache_policy=NO_CACHE)
def rebuild_search_index(path: Path) -> SearchIndexStats:
    """Rebuild the full-text index from the articles.

    Args:
        path: The DuckDB file.

    Returns:
        Rows indexed and time taken.
    """
    with open_warehouse(path) as con:
        return build_search_index(con)
