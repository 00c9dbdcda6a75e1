"""Feeds and their fetch log: the subscribed feeds, what each fetch said, and each feed's health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from core.records import FeedFetch, FeedHealth, FeedSource
from tasks.health import next_feed_health
from warehouse.connection import execute_with, transaction

_TS = pa.timestamp("us", tz="UTC")

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
        ("kind", pa.string()),
        ("cursor_at", _TS),
    ]
)


# One statement for the whole list, from an Arrow table: row by row, DuckDB kept memory for every upsert
# until the commit, so a long feed list cost hundreds of MB.
_UPSERT_FEEDS = """
MERGE INTO feeds USING feed_list s ON feeds.feed_url = s.feed_url
WHEN MATCHED THEN UPDATE SET
    title = coalesce(s.title, feeds.title),
    html_url = coalesce(s.html_url, feeds.html_url),
    category = coalesce(s.category, feeds.category),
    imported_from = s.imported_from,
    kind = coalesce(s.kind, feeds.kind)
WHEN NOT MATCHED THEN INSERT (feed_url, title, html_url, category, imported_from, kind)
    VALUES (s.feed_url, s.title, s.html_url, s.category, s.imported_from, s.kind)
"""
_LIST_FEEDS = """
SELECT f.feed_url, f.title, f.category, f.kind, f.active,
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
SELECT feed_url, title, html_url, category, etag, last_modified, kind, cursor_at
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
    moved_to = coalesce(h.moved_to, feeds.moved_to),
    kind = coalesce(h.kind, feeds.kind),
    cursor_at = coalesce(h.cursor_at, feeds.cursor_at)
FROM health h
WHERE feeds.feed_url = h.feed_url
"""


# A moved feed lives on under its new URL with its title and category (validators start afresh).
_ADD_MOVED = """
INSERT INTO feeds (feed_url, title, html_url, category, imported_from, kind)
SELECT DISTINCT ON (h.moved_to) h.moved_to, f.title, f.html_url, f.category, f.imported_from, f.kind
FROM health h JOIN feeds f ON f.feed_url = h.feed_url
WHERE h.moved_to IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feeds g WHERE g.feed_url = h.moved_to)
ORDER BY h.moved_to, h.feed_url
"""
_INSERT_FETCHES = "INSERT INTO feed_fetch_log BY NAME (SELECT * FROM fetch_batch)"

# `wirehouse feeds reset|enable|disable`: by hand, what health did on its own. ? is NULL for every feed.
_MATCH_FEEDS = "SELECT feed_url FROM feeds WHERE ? IS NULL OR list_contains(?, feed_url) ORDER BY feed_url"
_FEED_CHANGES = {
    # Forget failures and back-off: the feed is due on the next run.
    "reset": "UPDATE feeds SET consecutive_failures = 0, next_fetch_at = NULL "
    "WHERE ? IS NULL OR list_contains(?, feed_url)",
    # Take a retired feed (410 Gone, moved, by hand) back, afresh.
    "enable": "UPDATE feeds SET active = true, retired_reason = NULL, consecutive_failures = 0, "
    "next_fetch_at = NULL WHERE ? IS NULL OR list_contains(?, feed_url)",
    "disable": "UPDATE feeds SET active = false, retired_reason = 'by hand' "
    "WHERE ? IS NULL OR list_contains(?, feed_url)",
}


@dataclass(frozen=True)
class FeedStatus:
    """A subscribed feed, its health and what its last fetch said."""

    feed_url: str
    title: str | None
    category: str | None
    kind: str | None
    active: bool
    last_fetch: datetime | None
    last_status: int | None
    last_error: str | None
    last_success: datetime | None
    consecutive_failures: int
    next_fetch_at: datetime | None
    retired_reason: str | None
    articles: int


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
            "kind": [h.kind for h in health],
            "cursor_at": [h.cursor_at for h in health],
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
            "kind": pa.array([f.kind for f in unique], pa.string()),
        }
    )
    with transaction(con):
        execute_with(con, "feed_list", table, _UPSERT_FEEDS)
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
        FeedSource(
            url=r[0],
            title=r[1],
            html_url=r[2],
            category=r[3],
            etag=r[4],
            last_modified=r[5],
            kind=r[6],
            cursor_at=r[7],
        )
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
        execute_with(con, "fetch_batch", fetches_table(fetches, run_id), _INSERT_FETCHES)
        execute_with(con, "health", health_table(health, now), _ADD_MOVED, _APPLY_HEALTH)
    return len(fetches)


def change_feeds(con: duckdb.DuckDBPyConnection, action: str, urls: Sequence[str] | None) -> list[str]:
    """Reset the back-off of, enable or disable stored feeds.

    Args:
        con: Read-write connection.
        action: ``reset`` (forget failures: due on the next run), ``enable`` (take a retired feed back,
            afresh) or ``disable`` (retire by hand).
        urls: Feed URLs as stored; None for every feed.

    Returns:
        The stored feed URLs that were changed (a URL not stored is not among them).
    """
    wanted = list(urls) if urls is not None else None
    with transaction(con):
        matched = [row[0] for row in con.execute(_MATCH_FEEDS, [wanted, wanted]).fetchall()]
        if matched:
            con.execute(_FEED_CHANGES[action], [wanted, wanted])
    return matched
