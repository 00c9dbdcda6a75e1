"""Lake upkeep: merge small Parquet files, expire old snapshots, delete the files nothing needs any more.

Each commit of more than a few rows writes a Parquet file per table, so a day of ingests leaves many
small files; merging them keeps reads fast. Expiring a snapshot ends time travel to it; its files are
deleted only after a grace period, so a query that started on it before still finds them. Files a
killed transaction left (orphans) are deleted after a longer grace: a running one's files look the same.

Raw HTML past the retention window (the ``raw_html_days`` setting) is deleted first; its bytes leave
the disk once the snapshots that still see it expire: a file all of whose rows went is dropped then, and
files that lost a good part of their rows are rewritten without them before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from warehouse.connection import transaction
from warehouse.datafiles import remove_orphans
from warehouse.staging import prune_merged

# `news` is warehouse.connection.LAKE, the name every connection attaches the lake under.
_FLUSH = "CALL ducklake_flush_inlined_data('news')"
_MERGE = "CALL ducklake_merge_adjacent_files('news')"
_EXPIRE = "CALL ducklake_expire_snapshots('news', older_than => ?)"
_CLEANUP = "CALL ducklake_cleanup_old_files('news', older_than => ?)"
# A DELETE only marks rows in a delete file; rewriting a file without them is what frees their bytes.
_REWRITE_RAW = "CALL ducklake_rewrite_data_files('news', 'raw_pages', delete_threshold => ?)"
# Raw HTML fetched before the cutoff; the articles stay (they only can no longer be re-processed).
_EXPIRE_RAW_HTML = "DELETE FROM raw_pages WHERE fetched_at < ?"
# Rewrite a raw_pages file once this share of its rows is deleted: it then costs reading and writing
# the rest once, for at least a quarter of its bytes back.
RAW_REWRITE_SHARE = 0.25
_LIVE_FILES = """
SELECT (SELECT count(*) FROM __ducklake_metadata_news.ducklake_data_file)
     + (SELECT count(*) FROM __ducklake_metadata_news.ducklake_delete_file)
"""
_SNAPSHOTS = "SELECT count(*) FROM snapshots()"
_TABLE_NAMES = "SELECT DISTINCT table_id, table_name FROM __ducklake_metadata_news.ducklake_table"
_LIST_SNAPSHOTS = """
SELECT snapshot_id, snapshot_time, changes FROM snapshots() ORDER BY snapshot_id DESC LIMIT ?
"""
# Articles per snapshot from DuckLake's change feed: an update is a pre- and a post-image of one row.
_ARTICLE_CHANGES = """
SELECT snapshot_id,
       count(*) FILTER (WHERE change_type = 'insert'),
       count(*) FILTER (WHERE change_type = 'update_postimage'),
       count(*) FILTER (WHERE change_type = 'delete')
FROM news.table_changes('article_store', ?, ?)
GROUP BY snapshot_id
"""
# What each of the lake's tables is to a user; the schema's own bookkeeping is "schema".
_TABLE_WORDS = {
    "article_store": "articles",
    "raw_pages": "raw pages",
    "quotes": "quotes",
    "story_keys": "stories",
    "feeds": "feeds",
    "feed_fetch_log": "feed fetches",
    "archive_files": "archives",
    "archive_problems": "archive problems",
    "staged_batches": "staged batches",
    "merged_batches": "staged batches",
    "demo_newsroom": "feeds",
    "schema_migrations": "schema",
    "schema_views": "schema",
}
_WORD_ORDER = list(dict.fromkeys(_TABLE_WORDS.values()))


@dataclass(frozen=True)
class SnapshotSummary:
    """One snapshot as a user sees it: when, and what it did to the articles and the rest."""

    version: int
    time: datetime
    articles_added: int
    articles_changed: int
    articles_removed: int
    changes: str  # what the snapshot touched, in words ("articles, raw pages, feed fetches")


@dataclass(frozen=True)
class LakeUpkeep:
    """What one maintenance pass did."""

    files_before: int  # data and delete files the catalog lists (live or waiting for deletion)
    files_after: int
    merged: int  # files merged away
    snapshots_expired: int
    files_deleted: int
    orphans_deleted: int = 0  # files no commit referenced (left by killed transactions)
    flushed: int = 0  # files written from rows the catalog held inlined (small commits keep rows there)
    rewritten: int = 0  # raw_pages files rewritten without their deleted rows


def file_count(con: duckdb.DuckDBPyConnection) -> int:
    """Count the Parquet files the catalog lists: live ones and those waiting to be deleted."""
    row = con.execute(_LIVE_FILES).fetchone()
    return int(row[0]) if row else 0


def snapshot_count(con: duckdb.DuckDBPyConnection) -> int:
    """Count the lake's snapshots (the versions time travel can reach)."""
    row = con.execute(_SNAPSHOTS).fetchone()
    return int(row[0]) if row else 0


def upkeep(
    con: duckdb.DuckDBPyConnection,
    *,
    keep_snapshots: timedelta,
    file_grace: timedelta,
    orphan_grace: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> LakeUpkeep:
    """Merge small files, expire snapshots older than ``keep_snapshots``, delete unneeded and orphaned files.

    Args:
        con: Read-write connection, under the run lock (one writer per lake).
        keep_snapshots: How far back time travel reaches after this pass.
        file_grace: How long a file no snapshot needs is kept for queries still reading it.
        orphan_grace: How long a file no commit references is kept (a transaction still running, on
            another machine of a shared lake, writes such files until it commits).
        now: The current time (default: now).

    Returns:
        File counts before and after, and what each step did.
    """
    now = now or datetime.now(UTC)
    before = file_count(con)
    prune_merged(con)  # staged batches already merged (a shared lake's writers leave some behind)
    con.execute(_FLUSH).fetchall()
    flushed = file_count(con) - before
    merged = sum(int(r[2]) - int(r[3]) for r in con.execute(_MERGE).fetchall())
    rewritten = sum(int(r[2]) for r in con.execute(_REWRITE_RAW, [RAW_REWRITE_SHARE]).fetchall())
    expired = len(con.execute(_EXPIRE, [now - keep_snapshots]).fetchall())
    deleted = len(con.execute(_CLEANUP, [now - file_grace]).fetchall())
    orphans = remove_orphans(con, now - orphan_grace)
    return LakeUpkeep(before, file_count(con), merged, expired, deleted, orphans, max(flushed, 0), rewritten)


def expire_raw_html(con: duckdb.DuckDBPyConnection, days: int, now: datetime | None = None) -> int:
    """Delete the raw HTML of pages fetched more than ``days`` days ago (the ``raw_html_days`` setting).

    Args:
        con: Read-write connection, under the run lock.
        days: The retention window; a page fetched within it keeps its raw HTML.
        now: The current time (default: now).

    Returns:
        Raw pages deleted.
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with transaction(con):
        row = con.execute(_EXPIRE_RAW_HTML, [cutoff]).fetchone()
    return int(row[0]) if row else 0


def list_snapshots(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[tuple[int, datetime, str]]:
    """List the newest snapshots: version, time and what changed (``wirehouse query --as-of`` takes either).

    Args:
        con: A connection.
        limit: At most this many, newest first.

    Returns:
        ``(version, time, changes)`` per snapshot; changes as ``kind: names`` pairs.
    """
    rows = con.execute(_LIST_SNAPSHOTS, [limit]).fetchall()
    names = {str(table_id): str(name) for table_id, name in con.execute(_TABLE_NAMES).fetchall()}

    def named(kind: str, items: list[object]) -> str:
        # DuckLake lists inserted and deleted tables by id; the rest by name.
        shown = [names.get(str(i), str(i)) if kind.startswith("tables_") else str(i) for i in items]
        return f"{kind}: {', '.join(shown)}"

    return [
        (int(version), when, "; ".join(named(kind, list(items)) for kind, items in (changes or {}).items()))
        for version, when, changes in rows
    ]


def snapshot_history(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[SnapshotSummary]:
    """Summarise the newest snapshots in user terms: articles added, changed and removed, and what else.

    Args:
        con: A connection.
        limit: At most this many, newest first.

    Returns:
        One summary per snapshot, newest first.
    """
    rows = con.execute(_LIST_SNAPSHOTS, [limit]).fetchall()
    if not rows:
        return []
    names = {str(table_id): str(name) for table_id, name in con.execute(_TABLE_NAMES).fetchall()}
    versions = [int(r[0]) for r in rows]
    counts = {
        int(version): (int(added), int(changed), int(removed))
        for version, added, changed, removed in con.execute(
            _ARTICLE_CHANGES, [min(versions), max(versions)]
        ).fetchall()
    }

    def words(changes: dict[str, list[object]] | None) -> str:
        said: list[str] = []
        for kind, items in (changes or {}).items():
            if not kind.startswith(("tables_inserted", "tables_deleted", "inlined_")):
                found = ["schema"]  # tables, views or schemas created, altered or dropped
            else:
                found = [
                    _TABLE_WORDS.get(names.get(str(i), str(i)), names.get(str(i), str(i))) for i in items
                ]
            said += [w for w in found if w not in said]
        order = {word: n for n, word in enumerate(_WORD_ORDER)}
        return ", ".join(sorted(said, key=lambda word: order.get(word, len(order))))

    return [
        SnapshotSummary(int(version), when, *counts.get(int(version), (0, 0, 0)), words(changes))
        for version, when, changes in rows
    ]
