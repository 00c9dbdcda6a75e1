"""Load: the DuckDB warehouse — open, migrate, remember feeds, decide what is new, and bulk-load batches."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

import warehouse
from tasks import wirecopy
from tasks.feeds import next_feed_health
from tasks.rawhtml import COMPRESSION, compress_html, decompress_html
from tasks.records import Article, FeedEntry, FeedFetch, FeedHealth, FeedResult, FeedSource, Page
from wirehouse.errors import PermanentError, TransientError

logger = logging.getLogger(__name__)

# A page whose fetch failed transiently is tried again on later runs, this many times in all.
MAX_FETCH_ATTEMPTS = 6
# ... each after a growing pause: 15 min, 30 min, 1 h, 2 h, 4 h, so an outage of several hours loses
# nothing, while a page that stays broken stops costing requests after about eight hours.
RETRY_BASE_MINUTES = 15

_TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())

ARTICLE_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("feed_url", pa.string()),
        ("link", pa.string()),
        ("guid", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("description", pa.string()),
        ("authors", _STRINGS),
        ("published_at", _TS),
        ("modified_at", _TS),
        ("site_name", pa.string()),
        ("categories", _STRINGS),
        ("tags", _STRINGS),
        ("image", pa.string()),
        ("declared_language", pa.string()),
        ("language", pa.string()),
        ("language_confidence", pa.float64()),
        ("word_count", pa.int32()),
        ("reading_time_min", pa.float64()),
        ("content_hash", pa.string()),
        ("fetched_at", _TS),
        ("http_status", pa.int32()),
        ("final_url", pa.string()),
        ("content_type", pa.string()),
        ("extraction_status", pa.string()),
        ("extraction_error", pa.string()),
        ("agencies", _STRINGS),
        ("dateline_place", pa.string()),
        ("title_language", pa.string()),
        ("keywords", _STRINGS),
        ("paragraph_count", pa.int32()),
        ("paywalled", pa.bool_()),
        ("fingerprint", pa.binary()),
        ("story_id", pa.string()),
        ("retryable", pa.bool_()),
        ("run_id", pa.string()),
    ]
)

QUOTE_SCHEMA = pa.schema(
    [
        ("article_url", pa.string()),
        ("ordinal", pa.int32()),
        ("quote", pa.string()),
        ("start_offset", pa.int32()),
        ("end_offset", pa.int32()),
    ]
)

RAW_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("fetched_at", _TS),
        ("charset", pa.string()),
        ("compression", pa.string()),
        ("html", pa.binary()),
    ]
)

FETCH_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("feed_url", pa.string()),
        ("started_at", _TS),
        ("finished_at", _TS),
        ("http_status", pa.int32()),
        ("final_url", pa.string()),
        ("entries_seen", pa.int32()),
        ("new_entries", pa.int32()),
        ("error", pa.string()),
        ("error_reason", pa.string()),
        ("retry_after_s", pa.float64()),
        ("moved_to", pa.string()),
    ]
)

HEALTH_SCHEMA = pa.schema(
    [
        ("feed_url", pa.string()),
        ("ok", pa.bool_()),
        ("checked_at", _TS),
        ("last_status", pa.int32()),
        ("consecutive_failures", pa.int32()),
        ("next_fetch_at", _TS),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("retire_reason", pa.string()),
        ("moved_to", pa.string()),
    ]
)

CANDIDATE_SCHEMA = pa.schema([("url", pa.string()), ("feed_url", pa.string()), ("guid", pa.string())])

# --- SQL (values always as parameters or registered Arrow tables, never formatted into the text)

# One statement for the whole list, from an Arrow table: row by row, DuckDB kept ~0.28 MB per upsert until
# the commit (880 feeds: 244 MB, 2 s; measured).
_UPSERT_FEEDS = """
INSERT INTO feeds (feed_url, title, html_url, category, imported_from)
SELECT feed_url, title, html_url, category, imported_from FROM feed_list
ON CONFLICT (feed_url) DO UPDATE SET
    title = COALESCE(excluded.title, feeds.title),
    html_url = COALESCE(excluded.html_url, feeds.html_url),
    category = COALESCE(excluded.category, feeds.category),
    imported_from = excluded.imported_from
"""
_LIST_FEEDS = """
SELECT f.feed_url, f.title, f.category, f.active,
       l.started_at AS last_fetch, f.last_status, l.error AS last_error, f.last_success_at,
       coalesce(f.consecutive_failures, 0), f.next_fetch_at, f.retired_reason,
       (SELECT count(*) FROM article_store a WHERE a.feed_url = f.feed_url) AS articles
FROM feeds f
LEFT JOIN (
    SELECT * FROM feed_fetch_log QUALIFY row_number() OVER (PARTITION BY feed_url ORDER BY started_at DESC) = 1
) l USING (feed_url)
ORDER BY f.category NULLS FIRST, f.feed_url
"""
# Due feeds: active, not backing off; with a list, its feeds and where they moved to.
_DUE_FEEDS = """
SELECT feed_url, title, html_url, category, etag, last_modified
FROM feeds
WHERE active
  AND (next_fetch_at IS NULL OR next_fetch_at <= ?)
  AND (? IS NULL OR list_contains(?, feed_url)
       OR feed_url IN (SELECT moved_to FROM feeds WHERE list_contains(?, feed_url)))
ORDER BY feed_url
"""
_WAITING_FEEDS = "SELECT count(*) FROM feeds WHERE active AND next_fetch_at > ?"
_FAILURE_COUNTS = "SELECT feed_url, coalesce(consecutive_failures, 0) FROM feeds"
_APPLY_HEALTH = """
UPDATE feeds SET
    last_status = h.last_status,
    consecutive_failures = h.consecutive_failures,
    next_fetch_at = h.next_fetch_at,
    etag = h.etag,
    last_modified = h.last_modified,
    last_success_at = CASE WHEN h.ok THEN h.checked_at ELSE feeds.last_success_at END,
    active = feeds.active AND h.retire_reason IS NULL,
    retired_reason = coalesce(h.retire_reason, feeds.retired_reason),
    moved_to = coalesce(h.moved_to, feeds.moved_to)
FROM health h
WHERE feeds.feed_url = h.feed_url
"""
# A moved feed lives on under its new URL with its title and category (validators start afresh).
_ADD_MOVED = """
INSERT INTO feeds (feed_url, title, html_url, category, imported_from)
SELECT h.moved_to, f.title, f.html_url, f.category, f.imported_from
FROM health h JOIN feeds f ON f.feed_url = h.feed_url
WHERE h.moved_to IS NOT NULL
ON CONFLICT (feed_url) DO NOTHING
"""
# Known = stored under the same canonical URL, or the same GUID in the same feed; a page whose fetch
# failed for a passing reason is taken again once its pause is over, until MAX_FETCH_ATTEMPTS.
_KNOWN = """
WITH stored AS (
    SELECT url, feed_url, guid FROM article_store
    WHERE NOT (
        retryable AND fetch_attempts < ?
        AND fetched_at + to_minutes(CAST(? * pow(2, fetch_attempts - 1) AS BIGINT)) <= ?
    )
)
SELECT c.url FROM candidates c JOIN stored s ON s.url = c.url
UNION
SELECT c.url FROM candidates c JOIN stored s ON s.feed_url = c.feed_url AND s.guid = c.guid
"""
# Every extracted column, as both the ingest and the re-processing upsert overwrite them.
_UPSERT_ARTICLE = """
INSERT INTO article_store BY NAME (SELECT * FROM batch)
ON CONFLICT (url) DO UPDATE SET
    feed_url = excluded.feed_url, link = excluded.link, guid = excluded.guid, title = excluded.title,
    text = excluded.text, description = excluded.description, authors = excluded.authors,
    published_at = excluded.published_at, modified_at = excluded.modified_at, site_name = excluded.site_name,
    categories = excluded.categories, tags = excluded.tags, image = excluded.image,
    declared_language = excluded.declared_language, language = excluded.language,
    language_confidence = excluded.language_confidence, word_count = excluded.word_count,
    reading_time_min = excluded.reading_time_min, content_hash = excluded.content_hash,
    fetched_at = excluded.fetched_at, http_status = excluded.http_status, final_url = excluded.final_url,
    content_type = excluded.content_type, extraction_status = excluded.extraction_status,
    extraction_error = excluded.extraction_error, run_id = excluded.run_id,
    agencies = excluded.agencies, dateline_place = excluded.dateline_place,
    title_language = excluded.title_language, keywords = excluded.keywords,
    paragraph_count = excluded.paragraph_count, paywalled = excluded.paywalled,
    fingerprint = excluded.fingerprint, story_id = excluded.story_id"""
# A new article, or a retried failure: its fetch bookkeeping moves on; a settled article is never touched.
_INSERT_ARTICLES = (
    _UPSERT_ARTICLE
    + """,
    retryable = excluded.retryable,
    fetch_attempts = article_store.fetch_attempts + 1
WHERE article_store.retryable
"""
)
# Re-processing stored pages replaces what an older version of wirehouse extracted; it fetched
# nothing, so the fetch bookkeeping (retryable, fetch_attempts) stays as it was.
_REPLACE_ARTICLES = _UPSERT_ARTICLE

_WRITABLE = """
SELECT b.url FROM batch b
WHERE NOT EXISTS (SELECT 1 FROM article_store a WHERE a.url = b.url AND NOT a.retryable)
"""
_INSERT_RAW = """
INSERT INTO raw_pages BY NAME (SELECT * FROM raw_batch)
ON CONFLICT (url) DO UPDATE SET fetched_at = excluded.fetched_at, charset = excluded.charset,
    compression = excluded.compression,
    html = excluded.html
"""
# Quotes of a batch replace those stored for the same articles (a retried article gets new quotes).
_DELETE_QUOTES = "DELETE FROM quotes WHERE article_url IN (SELECT DISTINCT article_url FROM quote_batch)"
_INSERT_QUOTES = "INSERT INTO quotes BY NAME (SELECT * FROM quote_batch)"
# Stored articles sharing an LSH band key with the batch, within the wire-copy window, with their story.
_STORY_CANDIDATES = """
WITH hits AS (
    SELECT DISTINCT k.url FROM story_keys k JOIN batch_keys b ON k.band_key = b.band_key
    WHERE k.seen_at BETWEEN ? AND ?
)
SELECT a.url, coalesce(a.published_at, a.fetched_at), a.fingerprint, coalesce(a.story_id, a.url),
       coalesce(r.published_at, r.fetched_at, a.published_at, a.fetched_at)
FROM hits h JOIN article_store a ON a.url = h.url
LEFT JOIN article_store r ON r.url = coalesce(a.story_id, a.url)
WHERE a.fingerprint IS NOT NULL
"""
_RENAME_STORIES = """
UPDATE article_store SET story_id = r.new_story_id
FROM story_renames r WHERE article_store.story_id = r.old_story_id
"""
_DELETE_KEYS = "DELETE FROM story_keys WHERE url IN (SELECT url FROM key_batch)"
_INSERT_KEYS = "INSERT INTO story_keys BY NAME (SELECT * FROM key_batch)"
# Stored pages to re-process, selected by publication date range, feed and extraction status.
_STORED_PAGE_URLS = """
SELECT a.url FROM article_store a JOIN raw_pages r USING (url)
WHERE NOT a.retryable  -- a page waiting for another fetch is the ingest's to finish
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.published_at >= ?)
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.published_at < ?)
  AND (CAST(? AS VARCHAR) IS NULL OR a.feed_url = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR a.extraction_status = ?)
ORDER BY a.url
"""
_STORED_PAGES = """
SELECT a.url, a.feed_url, a.link, a.guid, a.title, a.description, a.authors, a.published_at,
       a.declared_language, r.fetched_at, a.final_url, a.http_status, a.content_type, r.charset,
       r.compression, r.html
FROM article_store a JOIN raw_pages r USING (url)
WHERE list_contains(?, a.url)
ORDER BY a.url
"""
_INSERT_FETCHES = "INSERT INTO feed_fetch_log BY NAME (SELECT * FROM fetch_batch)"


_CONNECT_LOCK = threading.Lock()
_NO_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
_LOAD_LOCK = threading.Lock()
# Seconds a connection waits while another process has the DuckDB file open (between its tasks).
CONNECT_WAIT = 60.0
_HELD_LOCKS: dict[str, tuple[int, int]] = {}  # lock file -> (fd, depth): the run lock is re-entrant
_HELD_LOCKS_GUARD = threading.Lock()


class WarehouseError(PermanentError):
    """The warehouse cannot be opened or used; the message is meant for the user."""


@dataclass(frozen=True)
class FeedStatus:
    """A subscribed feed, its health and what its last fetch said."""

    feed_url: str
    title: str | None
    category: str | None
    active: bool
    last_fetch: datetime | None
    last_status: int | None
    last_error: str | None
    last_success: datetime | None
    consecutive_failures: int
    next_fetch_at: datetime | None
    retired_reason: str | None
    articles: int


# --------------------------------------------------------------------------- pure functions


def articles_table(articles: Sequence[Article], run_id: str | None) -> pa.Table:
    """Build the Arrow table for a batch of articles (one bulk insert instead of row-by-row).

    Args:
        articles: The batch.
        run_id: The ingest run that produced it.

    Returns:
        A table with ARTICLE_SCHEMA.
    """
    columns: dict[str, list[Any]] = {name: [] for name in ARTICLE_SCHEMA.names}
    for article in articles:
        for name in ARTICLE_SCHEMA.names:
            value = run_id if name == "run_id" else getattr(article, name)
            columns[name].append(list(value) if isinstance(value, tuple) else value)
    return pa.table(columns, schema=ARTICLE_SCHEMA)


def raw_pages_table(articles: Sequence[Article]) -> pa.Table:
    """Build the Arrow table of compressed raw HTML for the articles that have it.

    Args:
        articles: The batch (raw HTML as served, or already compressed by a worker).

    Returns:
        A table with RAW_SCHEMA (zlib-compressed HTML).
    """
    kept = [a for a in articles if a.raw_html_zlib or a.raw_html]
    return pa.table(
        {
            "url": [a.url for a in kept],
            "fetched_at": [a.fetched_at for a in kept],
            "charset": [a.charset for a in kept],
            "compression": [COMPRESSION] * len(kept),
            "html": [a.raw_html_zlib or compress_html(a.raw_html or b"") for a in kept],
        },
        schema=RAW_SCHEMA,
    )


def quotes_table(articles: Sequence[Article]) -> pa.Table:
    """Build the Arrow table of the direct quotes of a batch.

    Args:
        articles: The batch.

    Returns:
        A table with QUOTE_SCHEMA, one row per quote.
    """
    rows = [(a.url, q) for a in articles for q in a.quotes]
    return pa.table(
        {
            "article_url": [url for url, _ in rows],
            "ordinal": [q.ordinal for _, q in rows],
            "quote": [q.text for _, q in rows],
            "start_offset": [q.start for _, q in rows],
            "end_offset": [q.end for _, q in rows],
        },
        schema=QUOTE_SCHEMA,
    )


def health_table(health: Sequence[FeedHealth], now: datetime) -> pa.Table:
    """Build the Arrow table of feed health updates.

    Args:
        health: One decision per fetched feed.
        now: The time the decisions were made.

    Returns:
        A table with HEALTH_SCHEMA.
    """
    return pa.table(
        {
            "feed_url": [h.feed_url for h in health],
            "ok": [h.ok for h in health],
            "checked_at": [now for _ in health],
            "last_status": [h.last_status for h in health],
            "consecutive_failures": [h.consecutive_failures for h in health],
            "next_fetch_at": [h.next_fetch_at for h in health],
            "etag": [h.etag for h in health],
            "last_modified": [h.last_modified for h in health],
            "retire_reason": [h.retire_reason for h in health],
            "moved_to": [h.moved_to for h in health],
        },
        schema=HEALTH_SCHEMA,
    )


def fetches_table(fetches: Sequence[FeedFetch], run_id: str | None) -> pa.Table:
    """Build the Arrow table of feed fetch records.

    Args:
        fetches: One record per feed.
        run_id: The ingest run.

    Returns:
        A table with FETCH_SCHEMA.
    """
    return pa.table(
        {
            name: [run_id if name == "run_id" else getattr(f, name) for f in fetches]
            for name in FETCH_SCHEMA.names
        },
        schema=FETCH_SCHEMA,
    )


def plan_new_entries(
    results: Sequence[FeedResult], known_urls: set[str], max_new_per_feed: int
) -> list[FeedResult]:
    """Keep only entries not yet stored, each URL once per run, at most ``max_new_per_feed`` per feed.

    Args:
        results: Fetched feeds with all their entries.
        known_urls: Canonical URLs already in the warehouse (by URL or GUID).
        max_new_per_feed: Cap per feed; the rest wait for the next run.

    Returns:
        The results with ``entries`` cut to the new ones and ``fetch.new_entries`` set.
    """
    taken: set[str] = set(known_urls)
    planned: list[FeedResult] = []
    for result in results:
        fresh: list[FeedEntry] = []
        for entry in result.entries:
            if entry.url in taken or len(fresh) >= max_new_per_feed:
                continue
            taken.add(entry.url)
            fresh.append(entry)
        planned.append(FeedResult(replace(result.fetch, new_entries=len(fresh)), tuple(fresh)))
    return planned


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``size`` items, in order.

    Args:
        items: Anything iterable.
        size: Largest batch.

    Yields:
        Lists of consecutive items.
    """
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------- the warehouse


def connect(
    path: Path | str, *, read_only: bool = False, wait_seconds: float = CONNECT_WAIT
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, with errors a user can act on.

    Args:
        path: The DuckDB file.
        read_only: Open for reading only (the file must exist).
        wait_seconds: How long to wait while another process holds the file.

    Returns:
        An open connection.

    Raises:
        WarehouseError: Missing file (read-only), unusable path, or the file is busy.
    """
    path = Path(path)
    if read_only and not path.is_file():
        raise WarehouseError(f"warehouse {path} does not exist (run `wirehouse ingest` first)")
    if not read_only:
        if path.exists() and not path.is_file():
            raise WarehouseError(f"warehouse path {path} is not a file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create folder for warehouse {path}: {exc.strerror}") from exc
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            # DuckDB shares one database instance per file within a process; two threads opening the
            # same file at once race to create it ("Unique file handle conflict"), so opens take turns.
            with _CONNECT_LOCK:
                # Never download extensions: the search index's macros would otherwise fetch `fts`
                # on a plain connection; we load it from its wheel where it is needed (tasks/search.py).
                return duckdb.connect(str(path), read_only=read_only, config=_NO_DOWNLOADS)
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" in message.lower():
                if time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise WarehouseError(
                    f"warehouse {path} is in use by another process (an ingest still running?)"
                ) from exc
            raise WarehouseError(f"cannot open warehouse {path}: {message.splitlines()[0]}") from exc
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {path}: {str(exc).splitlines()[0]}") from exc


class WarehouseBusyError(TransientError, WarehouseError):
    """Another process kept the warehouse for longer than we were willing to wait."""


@contextmanager
def warehouse_lock(
    path: Path | str, timeout: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the warehouse's run lock: one ingest per warehouse at a time, the next one waits its turn.

    The lock is an advisory ``flock`` on ``<warehouse>.lock``; the kernel releases it when the
    process dies, so a killed run never leaves a stale lock. Re-entrant within a process.

    Args:
        path: The DuckDB file.
        timeout: Seconds to wait for another run to finish.
        on_wait: Called once with a message when we have to wait.

    Yields:
        Nothing; the lock is held inside the block.

    Raises:
        WarehouseBusyError: The other run did not finish within ``timeout``.
    """
    lock_path = str(Path(path).with_name(Path(path).name + ".lock"))
    with _HELD_LOCKS_GUARD:
        held = _HELD_LOCKS.get(lock_path)
        if held:
            _HELD_LOCKS[lock_path] = (held[0], held[1] + 1)
    if held:
        try:
            yield
        finally:
            with _HELD_LOCKS_GUARD:
                fd, depth = _HELD_LOCKS[lock_path]
                _HELD_LOCKS[lock_path] = (fd, depth - 1)
        return
    try:
        Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(f"cannot create folder for warehouse {path}: {exc.strerror}") from exc
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WarehouseError(f"cannot write the lock file {lock_path}: {exc.strerror}") from exc
    deadline = time.monotonic() + timeout
    told = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"warehouse {path} is still in use by another ingest after {timeout:g} s; try again later"
                    ) from None
                if not told and on_wait:
                    on_wait(f"another ingest is using {path}; waiting up to {timeout:g} s for it to finish")
                    told = True
                time.sleep(0.5)
        with _HELD_LOCKS_GUARD:
            _HELD_LOCKS[lock_path] = (fd, 1)
        try:
            yield
        finally:
            with _HELD_LOCKS_GUARD:
                del _HELD_LOCKS[lock_path]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def open_warehouse(
    path: Path | str, *, read_only: bool = False, migrate: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for the duration of a ``with`` block.

    Args:
        path: The DuckDB file.
        read_only: Open for reading only.
        migrate: Apply pending migrations and re-create the views first (once per run, not per task:
            concurrent view re-creation from two threads would conflict).

    Yields:
        The connection, closed on exit.
    """
    con = connect(path, read_only=read_only)
    try:
        if migrate:
            warehouse.migrate(con)
        yield con
    finally:
        con.close()


# While a run holds the database open, DuckDB checkpoints when this much WAL has built up. A checkpoint's
# cost grows with the file (measured: 30 ms at 40 MB, ~690 ms at 860 MB), so one per batch (what closing
# the last connection does) made runs slower and slower; this caps it at one per ~18 batches of pages,
# and bounds the not-yet-checkpointed data DuckDB keeps in memory.
_RUN_CHECKPOINT_THRESHOLD = "SET GLOBAL checkpoint_threshold = '64MB'"
_RUN_MEMORY_LIMIT = "SET GLOBAL memory_limit = ?"


@contextmanager
def hold_warehouse(path: Path | str, memory_mb: int = 0) -> Iterator[None]:
    """Keep the warehouse's database open for a whole run, so its many short connections share it.

    Closing the last connection to a DuckDB file checkpoints it; with one held open, the per-batch
    connections close cheaply and the run checkpoints when ``_RUN_CHECKPOINT_THRESHOLD`` of WAL has
    built up, and once at its end. Other processes cannot open the file meanwhile (they wait, see
    :func:`connect`).

    Args:
        path: The DuckDB file.
        memory_mb: DuckDB's memory limit for the run in MiB (0: DuckDB's default, 80 % of RAM).

    Yields:
        Nothing; the database stays open inside the block.
    """
    con = connect(path)
    try:
        con.execute(_RUN_CHECKPOINT_THRESHOLD)
        if memory_mb:
            con.execute(_RUN_MEMORY_LIMIT, [f"{memory_mb}MiB"])
        yield
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block as one transaction: all of it is stored, or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def save_feeds(con: duckdb.DuckDBPyConnection, feeds: Sequence[FeedSource], source: str) -> int:
    """Insert or update subscribed feeds.

    Args:
        con: Read-write connection.
        feeds: Feeds from a feed list.
        source: The list's path or URL, remembered per feed.

    Returns:
        How many feeds the list had.
    """
    # A list may name a feed twice; one row per URL (the last one) keeps the upsert to one row per key.
    unique = list({feed.url: feed for feed in feeds}.values())
    table = pa.table(
        {
            "feed_url": pa.array([f.url for f in unique], pa.string()),
            "title": pa.array([f.title for f in unique], pa.string()),
            "html_url": pa.array([f.html_url for f in unique], pa.string()),
            "category": pa.array([f.category for f in unique], pa.string()),
            "imported_from": pa.array([source] * len(unique), pa.string()),
        }
    )
    with transaction(con):
        _execute_with(con, "feed_list", table, _UPSERT_FEEDS)
    return len(feeds)


def due_feeds(
    con: duckdb.DuckDBPyConnection, now: datetime, only: Sequence[str] | None = None
) -> list[FeedSource]:
    """Return the active feeds that are due (not backing off), with their conditional-GET validators.

    Args:
        con: A connection.
        now: The current time.
        only: Restrict to these feed URLs (and the URLs they moved to); None for all.

    Returns:
        The feeds to fetch this run.
    """
    listed = list(only) if only is not None else None
    rows = con.execute(_DUE_FEEDS, [now, listed, listed, listed or []]).fetchall()
    return [
        FeedSource(url=r[0], title=r[1], html_url=r[2], category=r[3], etag=r[4], last_modified=r[5])
        for r in rows
    ]


def waiting_feeds(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """Count active feeds skipped this run because they are backing off.

    Args:
        con: A connection.
        now: The current time.

    Returns:
        The number of feeds whose next_fetch_at is still ahead.
    """
    row = con.execute(_WAITING_FEEDS, [now]).fetchone()
    return int(row[0]) if row else 0


def active_feeds(con: duckdb.DuckDBPyConnection) -> list[FeedSource]:
    """Return every active feed, due or not.

    Args:
        con: A connection.

    Returns:
        The feeds, with their validators.
    """
    return due_feeds(con, datetime.max.replace(tzinfo=UTC))


def feed_statuses(con: duckdb.DuckDBPyConnection) -> list[FeedStatus]:
    """Return every subscribed feed with its health and last fetch.

    Args:
        con: A connection.

    Returns:
        One status per feed, by category and URL.
    """
    return [FeedStatus(*row) for row in con.execute(_LIST_FEEDS).fetchall()]


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
    candidates = pa.table(
        {
            "url": [e.url for e in entries],
            "feed_url": [e.feed_url for e in entries],
            "guid": [e.guid for e in entries],
        },
        schema=CANDIDATE_SCHEMA,
    )
    con.register("candidates", candidates)
    try:
        rows = con.execute(
            _KNOWN, [MAX_FETCH_ATTEMPTS, RETRY_BASE_MINUTES, now or datetime.now(UTC)]
        ).fetchall()
    finally:
        con.unregister("candidates")
    return {row[0] for row in rows}


def store_articles(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article], run_id: str | None, *, replace: bool = False
) -> int:
    """Store a batch of articles and their raw HTML in one transaction (idempotent by canonical URL).

    Args:
        con: Read-write connection.
        articles: The batch.
        run_id: The ingest (or reprocess) run.
        replace: Overwrite stored articles (re-processing); otherwise only new articles and
            retryable failures are written.

    Returns:
        Number of articles written (new ones and retried failures).
    """
    if not articles:
        return 0
    # One batch at a time per process: story assignment must see the previous batch's articles.
    with _LOAD_LOCK, transaction(con):
        con.register("batch", articles_table(articles, run_id))
        try:
            # Only new articles and retryable failures are written; a settled article stays as it is,
            # and so do its raw HTML and quotes.
            writable = {row[0] for row in con.execute(_WRITABLE).fetchall()}
        finally:
            con.unregister("batch")
        kept = list(articles) if replace else [a for a in articles if a.url in writable]
        kept, keys, renamed = assign_story_ids(con, kept)
        _execute_with(
            con, "batch", articles_table(kept, run_id), _REPLACE_ARTICLES if replace else _INSERT_ARTICLES
        )
        _execute_with(con, "raw_batch", raw_pages_table(kept), _INSERT_RAW)
        _execute_with(con, "quote_batch", quotes_table(kept), _DELETE_QUOTES, _INSERT_QUOTES)
        _execute_with(con, "story_renames", renames_table(renamed), _RENAME_STORIES)
        _execute_with(con, "key_batch", keys, _DELETE_KEYS, _INSERT_KEYS)
    return len(kept)


def assign_story_ids(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article]
) -> tuple[list[Article], pa.Table, dict[str, str]]:
    """Give each article its wire-copy ``story_id``, looking up stored candidates by LSH band key.

    Args:
        con: A connection inside the batch's transaction.
        articles: The articles about to be written.

    Returns:
        The articles with ``story_id`` set, their band-key rows for ``story_keys``, and the stored
        stories to rename (old story_id -> new) because the batch holds an earlier copy or a bridge.
    """
    fresh = [
        wirecopy.FingerprintedArticle(a.url, a.published_at or a.fetched_at, a.fingerprint) for a in articles
    ]
    keys = [(key, r.url, r.seen_at) for r in fresh for key in wirecopy.band_keys(r.fingerprint)]
    stored: list[wirecopy.StoredArticle] = []
    if keys:
        low = min(r.seen_at for r in fresh) - wirecopy.WINDOW
        high = max(r.seen_at for r in fresh) + wirecopy.WINDOW
        con.register("batch_keys", pa.table({"band_key": pa.array([k for k, _, _ in keys], pa.int64())}))
        try:
            rows = con.execute(_STORY_CANDIDATES, [low, high]).fetchall()
        finally:
            con.unregister("batch_keys")
        stored = [wirecopy.StoredArticle(*row) for row in rows]
    result = wirecopy.assign_stories(fresh, stored)
    assigned = [replace(a, story_id=result.story_ids.get(a.url, a.url)) for a in articles]
    key_rows = pa.table(
        {
            "band_key": pa.array([k for k, _, _ in keys], pa.int64()),
            "url": pa.array([u for _, u, _ in keys], pa.string()),
            "seen_at": pa.array([t for _, _, t in keys], _TS),
        }
    )
    return assigned, key_rows, result.renamed


def renames_table(renamed: dict[str, str]) -> pa.Table:
    """Build the Arrow table of story renames.

    Args:
        renamed: Old story_id to new story_id.

    Returns:
        A table of (old_story_id, new_story_id).
    """
    return pa.table(
        {
            "old_story_id": pa.array(list(renamed), pa.string()),
            "new_story_id": pa.array(list(renamed.values()), pa.string()),
        }
    )


def stored_page_urls(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    feed_url: str | None = None,
    status: str | None = None,
) -> list[str]:
    """List articles whose raw HTML is stored, filtered for re-processing.

    Args:
        con: A connection.
        since: Published at or after (None: no lower bound).
        until: Published before (None: no upper bound).
        feed_url: Only this feed.
        status: Only this ``extraction_status``.

    Returns:
        Canonical URLs, sorted.
    """
    params = [since, since, until, until, feed_url, feed_url, status, status]
    return [row[0] for row in con.execute(_STORED_PAGE_URLS, params).fetchall()]


def stored_pages(con: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> list[Page]:
    """Rebuild Page records from stored raw HTML (the feed entry from what the article row kept).

    Args:
        con: A connection.
        urls: Canonical URLs.

    Returns:
        Pages ready for extraction, sorted by URL.
    """
    pages = []
    for row in con.execute(_STORED_PAGES, [list(urls)]).fetchall():
        (
            url,
            feed_url,
            link,
            guid,
            title,
            description,
            authors,
            published,
            language,
            fetched_at,
            final_url,
            status,
            content_type,
            charset,
            compression,
            html,
        ) = row
        entry = FeedEntry(
            feed_url=feed_url,
            url=url,
            link=link,
            guid=guid,
            title=title,
            summary=description,
            authors=tuple(authors or ()),
            published_at=published,
            language=language,
        )
        body = decompress_html(html, compression)
        pages.append(
            Page(
                entry=entry,
                fetched_at=fetched_at,
                final_url=final_url,
                http_status=status,
                content_type=content_type,
                charset=charset,
                body=body,
            )
        )
    return pages


def _execute_with(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, *statements: str) -> None:
    """Run statements that read an Arrow table registered under ``name`` (skipped for an empty table)."""
    if not table.num_rows:
        return
    con.register(name, table)
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.unregister(name)


def store_fetches(
    con: duckdb.DuckDBPyConnection,
    fetches: Sequence[FeedFetch],
    run_id: str | None,
    now: datetime | None = None,
) -> int:
    """Append feed fetch records and update each feed's health, in one transaction.

    Args:
        con: Read-write connection.
        fetches: One record per fetched feed.
        run_id: The ingest run.
        now: The time the health decisions are based on (default: now).

    Returns:
        Number of records stored.
    """
    if not fetches:
        return 0
    now = now or datetime.now(UTC)
    with transaction(con):
        failures = dict(con.execute(_FAILURE_COUNTS).fetchall())
        health = [next_feed_health(f, int(failures.get(f.feed_url, 0)), now) for f in fetches]
        _execute_with(con, "fetch_batch", fetches_table(fetches, run_id), _INSERT_FETCHES)
        _execute_with(con, "health", health_table(health, now), _ADD_MOVED, _APPLY_HEALTH)
    return len(fetches)


# --------------------------------------------------------------------------- Prefect tasks


@task(name="prepare-warehouse", cache_policy=NO_CACHE)
def prepare_warehouse(path: Path) -> None:
    """Create or migrate the warehouse file.

    Args:
        path: The DuckDB file.
    """
    with open_warehouse(path, migrate=True):
        pass


@task(name="import-feeds", cache_policy=NO_CACHE)
def import_feeds(path: Path, feeds: list[FeedSource], source: str) -> int:
    """Store the feeds of a feed list.

    Args:
        path: The DuckDB file.
        feeds: Parsed feed list.
        source: Where the list came from.

    Returns:
        Number of feeds stored.
    """
    with open_warehouse(path) as con:
        return save_feeds(con, feeds, source)


@task(name="list-feeds", cache_policy=NO_CACHE)
def list_feeds(path: Path, only: list[str] | None = None) -> list[FeedSource]:
    """Return the feeds due this run, with their validators.

    Args:
        path: The DuckDB file.
        only: Restrict to these feed URLs (a ``--feeds`` list); None for every stored feed.

    Returns:
        The feeds to ingest.
    """
    logger = get_run_logger()
    now = datetime.now(UTC)
    with open_warehouse(path) as con:
        feeds = due_feeds(con, now, only)
        waiting = waiting_feeds(con, now)
    if waiting:
        logger.info("%d feeds are backing off after failures and wait for a later run", waiting)
    return feeds


@task(name="select-new-entries", cache_policy=NO_CACHE)
def select_new_entries(path: Path, results: list[FeedResult], max_new_per_feed: int) -> list[FeedResult]:
    """Drop entries already stored, so known URLs/GUIDs are never fetched again.

    Args:
        path: The DuckDB file.
        results: Fetched feeds.
        max_new_per_feed: Cap on new entries per feed per run.

    Returns:
        The results with only new entries.
    """
    with open_warehouse(path) as con:
        known = known_urls(con, [e for r in results for e in r.entries])
    return plan_new_entries(results, known, max_new_per_feed)


@task(name="record-fetches", cache_policy=NO_CACHE)
def record_fetches(path: Path, fetches: list[FeedFetch], run_id: str | None) -> int:
    """Store the run's feed fetch records (after its articles, so no fetch claims unstored articles).

    Args:
        path: The DuckDB file.
        fetches: One record per feed.
        run_id: The ingest run.

    Returns:
        Number of records stored.
    """
    with open_warehouse(path) as con:
        return store_fetches(con, fetches, run_id)


@task(name="select-stored-pages", cache_policy=NO_CACHE)
def select_stored_pages(
    path: Path, since: str | None, until: str | None, feed_url: str | None, status: str | None
) -> list[str]:
    """List stored pages to re-process.

    Args:
        path: The DuckDB file.
        since: ISO date or datetime, published at or after.
        until: ISO date or datetime, published before.
        feed_url: Only this feed.
        status: Only this extraction status.

    Returns:
        Canonical URLs.
    """
    with open_warehouse(path) as con:
        return stored_page_urls(
            con, since=parse_when(since), until=parse_when(until), feed_url=feed_url, status=status
        )


def parse_when(value: str | None) -> datetime | None:
    """Read an ISO date or datetime (naive means UTC) from a flow parameter.

    Args:
        value: e.g. ``2024-10-01`` or ``2024-10-01T12:00:00+02:00``.

    Returns:
        An aware datetime, or None.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise WarehouseError(f"not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
