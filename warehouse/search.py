"""Full-text search: a tantivy index beside the lake, updated with every stored batch (BM25, Snowball stems).

DuckDB's FTS cannot index a DuckLake table, and a rebuilt index is stale between rebuilds; this index
is written by the batch that stores the articles, so a run's articles are found when the run ends. Its
cost per batch grows with the batch, not with the warehouse (tantivy adds a segment and merges in the
background). This module ranks and answers queries; the schema is in warehouse/searchschema.py, the
writer, its mark and the catch-up in warehouse/searchwrite.py (their public names are re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import duckdb
import tantivy

from tasks.search import MAX_LIMIT, SearchError, SearchHit, as_timestamp, make_snippet, query_terms
from warehouse.searchschema import (
    EARLIEST,
    FIELD_GROUPS,
    INDEX_STEMMERS,
    LATEST,
    SHARED_TITLE,
    analyzer,
    index_stemmer,
    open_index,
    open_reader,
    primary_language,
)
from warehouse.searchwrite import (
    build_search_index,
    catch_up_search_index,
    current_snapshot,
    deferred_commits,
    index_articles,
    index_gap,
    search_lag,
    sync_search_index,
)

__all__ = [
    "INDEX_STEMMERS",
    "TITLE_BOOST",
    "build_search_index",
    "catch_up_search_index",
    "current_snapshot",
    "deferred_commits",
    "index_articles",
    "index_gap",
    "index_stemmer",
    "open_index",
    "ranked",
    "search",
    "search_lag",
    "sync_search_index",
]

TITLE_BOOST = 2.0  # a match in the shared title field counts this much more than one in the text
_HITS = """
SELECT a.url, a.title, coalesce(a.site_name, a.feed_url), a.published_at, a.language, a.text
FROM articles a WHERE list_contains(?, a.url)
"""


def ranked(
    folder: Path,
    terms: Sequence[str],
    *,
    lang: str | None = None,
    since: date | datetime | None = None,
    limit: int = 20,
) -> list[tuple[str, float]]:
    """Rank the indexed articles for query words: (url, score) pairs, best first.

    Args:
        folder: The index folder.
        terms: Query words (:func:`tasks.search.query_terms`).
        lang: Only articles in this language (ISO 639-1); the words are stemmed for it.
        since: Only articles published (else fetched) at or after this day (UTC) or time.
        limit: At most this many.

    Returns:
        The URLs and their scores.

    Raises:
        SearchError: No index yet.
    """
    if not terms:
        return []
    index, current = open_reader(folder)
    index.reload()
    wanted = primary_language(lang) if lang else None
    stemmers = [index_stemmer(wanted)] if wanted else FIELD_GROUPS
    schema = index.schema
    words = " ".join(f'"{t.lower()}"' for t in terms)
    fields = [f"{kind}_{s}" for s in stemmers for kind in ("title", "text")]
    boosts = {}
    if current:  # an outdated index has no shared title field (and ranks as it used to)
        fields.append(SHARED_TITLE)
        boosts[SHARED_TITLE] = TITLE_BOOST
    parts = [(tantivy.Occur.Must, index.parse_query(words, fields, field_boosts=boosts))]
    if wanted:
        parts.append((tantivy.Occur.Must, tantivy.Query.term_query(schema, "lang", wanted)))
    start = as_timestamp(since)
    if start is not None:
        low = min(max(start, EARLIEST), LATEST)
        parts.append(
            (
                tantivy.Occur.Must,
                tantivy.Query.range_query(schema, "seen", tantivy.FieldType.Date, low, LATEST),
            )
        )
    searcher = index.searcher()
    found = searcher.search(tantivy.Query.boolean_query(parts), limit).hits
    scores: dict[str, float] = {}
    for score, address in found:
        doc = searcher.doc(address)
        scores[str(doc["url"][0])] = float(score)
    return list(scores.items())


def search(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    query: str,
    *,
    lang: str | None = None,
    since: date | datetime | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Find articles by BM25 over title and text (and, counting double, the shared title field), best first.

    Args:
        con: A connection (read-only is fine), for the articles' columns and text.
        folder: The index folder.
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
    scores = dict(ranked(folder, terms, lang=lang, since=since, limit=limit))
    if not scores:
        return []
    rows = {r[0]: r for r in con.execute(_HITS, [list(scores)]).fetchall()}
    marks = set(terms)
    for stemmer in [index_stemmer(primary_language(lang))] if lang else FIELD_GROUPS:
        tokens = analyzer(stemmer)
        marks.update(token for term in terms for token in tokens.analyze(term))
    hits = [
        SearchHit(
            url=url,
            title=row[1],
            source=row[2],
            published_at=row[3],
            language=row[4],
            score=score,
            snippet=make_snippet(row[5], sorted(marks)),
        )
        for url, score in scores.items()
        if (row := rows.get(url)) is not None
    ]
    return sorted(
        hits, key=lambda h: (-h.score, -(h.published_at.timestamp() if h.published_at else 0), h.url)
    )
