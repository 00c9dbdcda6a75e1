"""Articles, their raw pages and quotes: what is new, and bulk-loading a batch in one transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core.errors import first_line
from core.records import Article, FeedEntry
from tasks.confidence import LOW_CONFIDENCE
from tasks.retry import PAGE_REFETCH
from tasks.validate import MAX_DESCRIPTION, clean_text
from warehouse import keys as key_index
from warehouse.connection import (
    WarehouseError,
    WarehouseMemoryError,
    execute_with,
    transaction,
)
from warehouse.faults import storage_full, storage_full_error
from warehouse.pages import raw_html_gone as raw_html_gone
from warehouse.pages import stored_page_urls as stored_page_urls
from warehouse.pages import stored_pages as stored_pages
from warehouse.rows import ARTICLE_SCHEMA as ARTICLE_SCHEMA
from warehouse.rows import QUOTE_SCHEMA as QUOTE_SCHEMA
from warehouse.rows import RAW_SCHEMA as RAW_SCHEMA
from warehouse.rows import articles_table as articles_table
from warehouse.rows import quotes_table as quotes_table
from warehouse.rows import raw_pages_table as raw_pages_table
from warehouse.search import current_snapshot, index_articles, index_gap
from warehouse.stories import assign_story_ids, store_story_keys

# A page whose fetch failed transiently is tried again on later runs, this many times in all, each
# after a doubling pause from this many minutes (tasks.retry's PAGE_REFETCH).
MAX_FETCH_ATTEMPTS = PAGE_REFETCH.max_attempts
RETRY_BASE_MINUTES = round(PAGE_REFETCH.base_delay / 60)


logger = logging.getLogger(__name__)


CANDIDATE_SCHEMA = pa.schema([("url", pa.string())])


# Staged by a run on a shared lake and not merged yet: someone is storing it already. (Stored URLs are
# the key index's: warehouse.keys.)
_STAGED = """
SELECT DISTINCT c.url FROM candidates c JOIN (
    SELECT unnest(b.urls) AS url FROM staged_batches b
    WHERE NOT EXISTS (SELECT 1 FROM merged_batches m WHERE m.batch_id = b.batch_id)
) p ON p.url = c.url
"""


# Every extracted column, as both the ingest and the re-processing upsert overwrite them. DuckLake has
# no ON CONFLICT: a MERGE by URL, safe because one writer at a time merges into a lake (the run lock,
# and one batch at a time per process).
_EXTRACTED = """
    feed_url = b.feed_url, link = b.link, guid = b.guid, title = b.title,
    text = b.text, description = b.description, authors = b.authors,
    published_at = b.published_at, modified_at = b.modified_at, site_name = b.site_name,
    categories = b.categories, tags = b.tags, image = b.image,
    declared_language = b.declared_language, language = b.language,
    language_confidence = b.language_confidence, word_count = b.word_count,
    reading_time_min = b.reading_time_min, content_hash = b.content_hash,
    fetched_at = b.fetched_at, http_status = b.http_status, final_url = b.final_url,
    content_type = b.content_type, extraction_status = b.extraction_status,
    extraction_error = b.extraction_error, run_id = b.run_id,
    agencies = b.agencies, dateline_place = b.dateline_place,
    title_language = b.title_language, keywords = b.keywords,
    paragraph_count = b.paragraph_count, paywalled = b.paywalled,
    fingerprint = b.fingerprint, story_id = b.story_id,
    seo_title = b.seo_title, page_type = b.page_type, extraction_confidence = b.extraction_confidence"""
# A new article, or a retried failure: its fetch bookkeeping moves on; a settled article is never touched.
_INSERT_ARTICLES = (
    "MERGE INTO article_store USING batch b ON article_store.url = b.url\n"
    "WHEN MATCHED AND article_store.retryable THEN UPDATE SET"
    + _EXTRACTED
    + """,
    retryable = b.retryable, fetch_attempts = article_store.fetch_attempts + 1
WHEN NOT MATCHED THEN INSERT BY NAME
"""
)
# Re-processing stored pages replaces what an older version of wirehouse extracted; it fetched
# nothing, so the fetch bookkeeping (retryable, fetch_attempts) stays as it was.
_REPLACE_ARTICLES = (
    "MERGE INTO article_store USING batch b ON article_store.url = b.url\nWHEN MATCHED THEN UPDATE SET"
    + _EXTRACTED
    + "\nWHEN NOT MATCHED THEN INSERT BY NAME\n"
)

# A batch of articles none of which is stored yet (the usual ingest batch) is appended: the same rows
# as the MERGEs would write, without their join against the whole table, and with nothing to delete.
_APPEND_ARTICLES = "INSERT INTO article_store BY NAME (SELECT * FROM batch)"
_APPEND_RAW = "INSERT INTO raw_pages BY NAME (SELECT * FROM raw_batch)"


_INSERT_RAW = """
MERGE INTO raw_pages USING raw_batch b ON raw_pages.url = b.url
WHEN MATCHED THEN UPDATE SET fetched_at = b.fetched_at, charset = b.charset, compression = b.compression,
    html = b.html
WHEN NOT MATCHED THEN INSERT BY NAME
"""
# Quotes of a batch replace those stored for the same articles (a retried article gets new quotes).
_DELETE_QUOTES = "DELETE FROM quotes WHERE list_contains(?, article_url)"


_INSERT_QUOTES = "INSERT INTO quotes BY NAME (SELECT * FROM quote_batch)"
# A staged batch (shared lake) is recorded as merged in the transaction that merges it.
_MARK_MERGED = "INSERT INTO merged_batches VALUES (?, ?, ?)"


# What a run stored, for its report: articles by language and by source, its wire-copy story groups.
_BREAKDOWN_QUERIES = {
    "language": "SELECT language, count(*) FROM articles WHERE run_id = ? GROUP BY 1 ORDER BY 2 DESC, 1",
    "source": (
        "SELECT coalesce(site_name, regexp_extract(url, '^https?://([^/]+)', 1)), count(*) FROM articles"
        " WHERE run_id = ? GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 25"
    ),
    "page_type": (
        "SELECT coalesce(page_type, 'unknown'), count(*),"
        " count(*) FILTER (WHERE extraction_status = 'ok' AND extraction_confidence < ?)"
        " FROM articles WHERE run_id = ? GROUP BY 1 ORDER BY 2 DESC, 1"
    ),
    "stories": (
        "SELECT s.title, s.outlets_count, s.size FROM stories s WHERE s.story_id IN"
        " (SELECT story_id FROM articles WHERE run_id = ?) AND s.size > 1"
        " ORDER BY s.outlets_count DESC, s.size DESC, s.title LIMIT 15"
    ),
}

_LOAD_LOCK = threading.Lock()
# The same lock for the other writes a run's batch threads make (re-checks): one DuckLake commit at a
# time per process, so an embedded catalog never meets another commit of its own process.
BATCH_WRITES = _LOAD_LOCK


# Errors that say nothing about the articles being stored (the warehouse's, not the batch's).
_NOT_THE_ARTICLE = (
    duckdb.TransactionException,
    duckdb.IOException,
    duckdb.HTTPException,
    duckdb.ConnectionException,
    duckdb.InterruptException,
    duckdb.FatalException,
)


def error_row(article: Article, exc: BaseException) -> Article:
    """The row that stands in for an article that could not be stored: identity, status ``error``, why.

    Args:
        article: The article whose row the warehouse refused.
        exc: What storing it raised.

    Returns:
        A minimal article (no text, metadata or raw HTML), not retried by later runs.
    """
    return Article(
        url=article.url,
        feed_url=article.feed_url,
        link=article.link,
        guid=article.guid,
        title=None,
        text=None,
        fetched_at=article.fetched_at,
        extraction_status="error",
        extraction_error=clean_text(f"storing failed: {type(exc).__name__}: {exc}", MAX_DESCRIPTION),
        http_status=article.http_status,
    )


def store_isolating(store: Callable[[list[Article]], object], articles: list[Article]) -> list[Article]:
    """Store a batch; if storing raises, split it in halves until the offending article is found.

    Each part is stored in its own transaction, so the rest of the batch lands; the offending article is
    stored as an :func:`error_row`. Errors that halving cannot help (out of memory, a busy or broken
    warehouse) are raised as they are.

    Args:
        store: Stores a list of articles in one transaction (all or nothing).
        articles: The batch.

    Returns:
        The articles as stored (offenders replaced by their error rows), in order.
    """
    try:
        store(articles)
        return articles
    except WarehouseError:
        raise
    except _NOT_THE_ARTICLE as exc:
        # A conflict, a broken connection or disk: splitting would turn a passing failure into error
        # rows for good articles. The batch fails as a whole and is taken again.
        if storage_full(exc):
            raise storage_full_error(exc) from exc
        raise WarehouseError(f"storing a batch failed: {first_line(exc)}") from exc
    except Exception as exc:
        if len(articles) == 1:
            logger.warning("article %s could not be stored (%s); stored as an error", articles[0].url, exc)
            stand_in = error_row(articles[0], exc)
            store([stand_in])  # if even this fails the warehouse itself is broken: raise
            return [stand_in]
    middle = len(articles) // 2
    return store_isolating(store, articles[:middle]) + store_isolating(store, articles[middle:])


def known_urls(
    con: duckdb.DuckDBPyConnection, entries: Sequence[FeedEntry], now: datetime | None = None
) -> set[str]:
    """Return the canonical URLs of entries that need no fetch this run.

    That is: stored (by URL, or by GUID within the feed), unless the fetch failed for a passing
    reason and its pause before the next attempt is over.

    Args:
        con: A connection.
        entries: Candidate entries.
        now: The current time (default: now).

    Returns:
        The URLs among them that need no fetch.
    """
    if not entries:
        return set()
    path = key_index.index_path(con)
    key_index.catch_up(con, path)
    known = key_index.known(path, entries, now or datetime.now(UTC), MAX_FETCH_ATTEMPTS, RETRY_BASE_MINUTES)
    candidates = pa.table({"url": [e.url for e in entries]}, schema=CANDIDATE_SCHEMA)
    con.register("candidates", candidates)
    try:
        known.update(row[0] for row in con.execute(_STAGED).fetchall())
    finally:
        con.unregister("candidates")
    return known


def store_articles(
    con: duckdb.DuckDBPyConnection,
    articles: Sequence[Article],
    run_id: str | None,
    *,
    replace: bool = False,
    search_dir: Path | None = None,
    merged_batches: Sequence[tuple[str, int]] = (),
    before_commit: Callable[[], None] | None = None,
    with_kept: Callable[[duckdb.DuckDBPyConnection, Sequence[Article]], None] | None = None,
) -> int:
    """Store a batch of articles and their raw HTML in one transaction (idempotent by canonical URL).

    Args:
        con: Read-write connection.
        articles: The batch.
        run_id: The ingest (or reprocess) run.
        replace: Overwrite stored articles (re-processing); otherwise only new articles and
            retryable failures are written.
        search_dir: The search index to bring up to date with what was written (after the commit, so
            the index never finds an article the lake does not have).
        merged_batches: The staged batches this merges, as (id, articles), recorded in the same
            transaction.
        before_commit: Called last inside the transaction; raising rolls it back (a shared lake's
            merge confirms it still holds the lock).
        with_kept: Called inside the transaction with the articles it writes, for rows that belong
            with them (their first re-checks): one commit, and a kill never keeps one without the other.

    Returns:
        Number of articles written (new ones and retried failures).
    """
    if not articles:
        return 0
    # One batch at a time per process: story assignment must see the previous batch's articles, and
    # the index learns the batches in the order the lake committed them (so its mark never skips one).
    with _LOAD_LOCK:
        try:
            kept, snapshot = _store_articles(
                con,
                articles,
                run_id,
                replace=replace,
                merged_batches=merged_batches,
                before_commit=before_commit,
                with_kept=with_kept,
            )
        except duckdb.OutOfMemoryException as exc:
            raise WarehouseMemoryError(first_line(exc)) from exc
        if search_dir is not None:
            try:
                # Read right after the commit, under _LOAD_LOCK: no other article change can come in
                # between (one writer per embedded lake, batches one at a time), so this snapshot is the
                # batch's, or a later one that changed no article.
                index_articles(search_dir, kept, snapshot)
            except BaseException as exc:
                index_gap(search_dir)  # stored but maybe not indexed: the next catch-up takes it
                if storage_full(exc):
                    raise storage_full_error(exc) from exc
                raise
    return len(kept)


def _store_articles(
    con: duckdb.DuckDBPyConnection,
    articles: Sequence[Article],
    run_id: str | None,
    *,
    replace: bool,
    merged_batches: Sequence[tuple[str, int]] = (),
    before_commit: Callable[[], None] | None = None,
    with_kept: Callable[[duckdb.DuckDBPyConnection, Sequence[Article]], None] | None = None,
) -> tuple[list[Article], int]:
    """The body of :func:`store_articles`: one transaction (the caller holds ``_LOAD_LOCK``).

    Returns:
        The articles written, and the lake's snapshot right after the commit.
    """
    with ExitStack() as stack:
        with transaction(con):
            # The index caught up with this transaction's snapshot: exactly what the lake holds for it.
            path = key_index.index_path(con)
            start = key_index.catch_up_to(con, path)
            # One connection for the lookups and the record; opened after the catch-up, which may
            # make a damaged index anew.
            index = stack.enter_context(key_index.session(path))
            stored = index.stored({a.url for a in articles})
            # Only new articles and retryable failures are written; a settled article stays as it is,
            # and so do its raw HTML and quotes.
            kept = list(articles) if replace else [a for a in articles if _writable(stored.get(a.url))]
            renewed = sorted(
                {a.url for a in kept} & stored.keys()
            )  # rows replaced, with their quotes and keys
            kept, keys, renamed = assign_story_ids(con, kept, index)
            if renewed:
                execute_with(
                    con,
                    "batch",
                    articles_table(kept, run_id),
                    _REPLACE_ARTICLES if replace else _INSERT_ARTICLES,
                )
                execute_with(con, "raw_batch", raw_pages_table(kept), _INSERT_RAW)
                con.execute(_DELETE_QUOTES, [renewed])
            else:
                execute_with(con, "batch", articles_table(kept, run_id), _APPEND_ARTICLES)
                execute_with(con, "raw_batch", raw_pages_table(kept), _APPEND_RAW)
            execute_with(con, "quote_batch", quotes_table(kept), _INSERT_QUOTES)
            store_story_keys(con, keys, renamed, renewed)
            now = datetime.now(UTC)
            for batch_id, count in merged_batches:
                con.execute(_MARK_MERGED, [batch_id, now, count])
            if with_kept is not None and kept:
                with_kept(con, kept)
            if before_commit is not None:
                before_commit()
        snapshot = current_snapshot(con)
        rows = [_key_row(a, stored.get(a.url), replace) for a in kept]
        index.record(start, snapshot, rows, renamed, key_index.snapshot_time(con, snapshot))
    return kept, snapshot


def _writable(key: key_index.StoredKey | None) -> bool:
    """New, or a failure that may be fetched again."""
    return key is None or key.retryable


def _key_row(article: Article, was: key_index.StoredKey | None, replace: bool) -> key_index.KeyRow:
    """An article as the key index holds it once the batch's MERGE or INSERT wrote it."""
    if was is None:
        retryable, attempts = article.retryable, 1
    elif replace:  # re-processing fetched nothing: the fetch bookkeeping stays
        retryable, attempts = was.retryable, was.attempts
    else:  # a retried failure
        retryable, attempts = article.retryable, was.attempts + 1
    return key_index.key_row(
        article.url,
        article.feed_url or None,
        article.guid,
        retryable,
        attempts,
        article.fetched_at,
        article.published_at or article.fetched_at,
        article.story_id,
        article.fingerprint,
    )


def run_breakdown(con: duckdb.DuckDBPyConnection, run_id: str | None) -> dict[str, list[tuple[Any, ...]]]:
    """Count what one run stored, by language and by source, and list its wire-copy story groups.

    Args:
        con: A connection.
        run_id: The run.

    Returns:
        Rows per breakdown: ``language``, ``source``, ``page_type`` (with its pages of low extraction
        confidence) and ``stories``.
    """
    return {
        name: [
            tuple(r)
            for r in con.execute(
                sql, [LOW_CONFIDENCE, run_id] if name == "page_type" else [run_id]
            ).fetchall()
        ]
        for name, sql in _BREAKDOWN_QUERIES.items()
    }
