"""The SQL half of full-text search: per-language BM25 indexes (DuckDB FTS, loaded from its wheel)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from tasks.search import (
    ALL_STEMMERS,
    MAX_LIMIT,
    NO_STEMMER,
    STEMMERS,
    SearchError,
    SearchHit,
    SearchIndexStats,
    as_timestamp,
    make_snippet,
    query_terms,
    stemmer_for,
)

# Tokens are runs of letters, marks and digits in any script (the extension's default keeps only a-z
# and would drop Greek, Cyrillic, Arabic, Hangul ... entirely); a dot is dropped so "U.S." == "us".
_IGNORE = r"(\.|[^\p{L}\p{M}\p{N}])+"


# Chinese and Japanese have no spaces: each Han/kana character becomes a token of its own (unigrams),
# in the indexed text and in the query alike. The same ranges for DuckDB's RE2 and Python's re.
_CJK_RE2 = r"([\x{3040}-\x{30ff}\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}])"


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
    ts = as_timestamp(since)
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
