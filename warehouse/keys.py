"""The key index: every stored URL in a local SQLite file, so a batch's lookups cost O(batch · log lake).

DuckLake has no indexes (its files prune only on min/max statistics, and URLs are spread over every
file), so asking "is this URL stored?" of ``article_store`` reads the URLs of the whole lake. The key
index is derived state beside the lake, like the search index: one row per stored URL (its GUID, fetch
bookkeeping and story), B-tree indexed, and the lake snapshot it holds (the mark). It catches up from
DuckLake's change feed before each use, in one SQLite transaction with its mark, so a kill at any point
leaves it at an older mark that the next use catches up from. It is rebuilt from the lake when it is
missing, from another lake, older than the snapshots the lake still keeps, or of an older layout.

This module catches the index up with the lake; the file itself (layout, lookups, writes) is
`warehouse.keyfile`. Each machine has its own (beside the search index); the lake stays the only truth, and every lookup a
writer trusts is made inside the transaction that writes, on an index caught up with that transaction's
snapshot.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from core.records import FeedEntry
from tasks.wirecopy import StoredArticle, band_keys
from warehouse import keyfile
from warehouse.keyfile import KeyIndex, KeyRow, StoredKey, key_row, session
from warehouse.lake import attached_lake, lake_of

__all__ = [
    "KeyIndex",
    "KeyRow",
    "StoredKey",
    "candidates",
    "catch_up",
    "catch_up_to",
    "index_path",
    "key_row",
]
__all__ += ["known", "record", "session", "snapshot_time", "stored"]


# On the lake (DuckDB): its identity, its snapshots, and the rows the index keeps.
_LAKE_PATH = "SELECT path FROM duckdb_databases() WHERE database_name = 'news'"
_DATA_PATH = "SELECT value FROM news.options() WHERE option_name = 'data_path'"
_CURRENT = "SELECT id FROM news.current_snapshot()"
_SNAPSHOT_TIME = "SELECT CAST(snapshot_time AS VARCHAR) FROM news.snapshots() WHERE snapshot_id = ?"
_COLUMNS = """url, feed_url, guid, retryable, fetch_attempts, epoch_us(fetched_at),
       epoch_us(coalesce(published_at, fetched_at)), story_id, fingerprint"""
_ALL_ROWS = f"SELECT {_COLUMNS} FROM article_store"  # noqa: S608 (constant text, no values)
# A URL whose last change in the range is a delete leaves the index; an update's post-image follows
# its pre-image, and a delete in the same snapshot comes before an insert of the same URL.
_CHANGES = f"""
SELECT {_COLUMNS}, change_type = 'delete'
FROM news.table_changes('article_store', ?, ?)
WHERE change_type IN ('insert', 'update_postimage', 'delete')
ORDER BY snapshot_id, change_type = 'delete' DESC, rowid
"""  # noqa: S608 (constant text, no values)
_FETCH_ROWS = 50_000


def index_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The key index of the lake a connection has attached (beside its search index)."""
    lake = attached_lake(con)
    if lake is not None:
        return lake.keys
    row = con.execute(_LAKE_PATH).fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("no lake attached as 'news'")
    catalog = str(row[0])
    if catalog.startswith("sqlite:"):
        return lake_of(catalog.removeprefix("sqlite:")).keys
    data = con.execute(_DATA_PATH).fetchone()
    return lake_of(catalog, data_path=str(data[0]) if data else "").keys


def catch_up_to(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Catch the index up (:func:`catch_up`) and return the snapshot it now holds."""
    current = _current(con)
    catch_up(con, path, current)
    return current


def catch_up(con: duckdb.DuckDBPyConnection, path: Path | None = None, current: int | None = None) -> int:
    """Bring the key index up to the snapshot ``con`` reads (inside a transaction: that transaction's).

    Args:
        con: A connection to the lake.
        path: The index file (default: the lake's, :func:`index_path`).
        current: The snapshot ``con`` reads, if the caller has it already.

    Returns:
        Article changes applied (the whole lake when it was rebuilt; 0 when it was up to date).
    """
    path = path or index_path(con)
    current = _current(con) if current is None else current
    try:
        return _catch_up_file(con, path, current)
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise  # another process's catch-up for five minutes: a busy index is no damaged one
        # Damaged, or not an index at all: derived state, so it is made anew from the lake.
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return _catch_up_file(con, path, current)


def _catch_up_file(con: duckdb.DuckDBPyConnection, path: Path, current: int) -> int:
    with keyfile.open_file(path) as db:
        db.execute("BEGIN IMMEDIATE")  # one catch-up at a time per file: the mark is read under the lock
        try:
            applied = _catch_up(con, db, current)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied


def known(
    path: Path, entries: Sequence[FeedEntry], now: datetime, max_attempts: int, base_minutes: int
) -> set[str]:
    """Return the URLs of entries stored (by URL, or by GUID within the feed) and not due for a retry.

    Args:
        path: A caught-up index.
        entries: Candidate entries.
        now: The current time.
        max_attempts: Fetches after which a failing page is given up.
        base_minutes: The pause after the first failed fetch (doubling after each).

    Returns:
        The canonical URLs among ``entries`` that need no fetch.
    """
    with keyfile.open_file(path) as db:
        found = {
            url: StoredKey(bool(r), n, keyfile.to_time(us))
            for url, r, n, us in db.execute(keyfile.BY_URL, [json.dumps([e.url for e in entries])])
        }
        pairs = [[e.url, e.feed_url, e.guid] for e in entries if e.guid and e.feed_url]
        by_guid = db.execute(keyfile.BY_GUID, [json.dumps(pairs)]).fetchall() if pairs else []
    known_urls = {url for url, key in found.items() if not key.due(now, max_attempts, base_minutes)}
    for _, entry_url, r, n, us in by_guid:
        if not StoredKey(bool(r), n, keyfile.to_time(us)).due(now, max_attempts, base_minutes):
            known_urls.add(entry_url)
    return known_urls


def stored(path: Path, urls: Iterable[str]) -> dict[str, StoredKey]:
    """Return what the index knows of each of ``urls`` that is stored."""
    with session(path) as index:
        return index.stored(urls)


def record(
    path: Path,
    after: int,
    snapshot: int,
    rows: Sequence[KeyRow],
    renamed: Mapping[str, str],
    snapshot_time: str,
) -> bool:
    """Take in what one commit wrote (:meth:`KeyIndex.record`) on a connection of its own."""
    with session(path) as index:
        return index.record(after, snapshot, rows, renamed, snapshot_time)


def snapshot_time(con: duckdb.DuckDBPyConnection, snapshot: int) -> str:
    """The time of one of the lake's snapshots, as the mark records it."""
    return _snapshot_time(con, snapshot) or ""


def candidates(path: Path, band_keys: Iterable[int], low: datetime, high: datetime) -> list[StoredArticle]:
    """Return the stored articles that share a band key and appeared in [low, high] (:meth:`KeyIndex.candidates`)."""
    with session(path) as index:
        return index.candidates(band_keys, low, high)


def _catch_up(con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, current: int) -> int:
    # The lake is known by its history, not its address: a copy of the lake with its index is still
    # caught up, while a lake made anew under the same name has other snapshot times.
    mark = db.execute(keyfile.READ_MARK).fetchone()
    if mark is not None and mark[0] == keyfile.VERSION and mark[1] <= current:
        _, snapshot, snapshot_time = mark
        if snapshot == current and _snapshot_time(con, current) == snapshot_time:
            return 0
        if _snapshot_time(con, snapshot) == snapshot_time:  # the same lake's history, still kept
            try:
                changes = con.execute(_CHANGES, [snapshot + 1, current]).fetchall()
            except duckdb.Error:  # the snapshots since the mark expired: rebuild
                changes = None
            if changes is not None:
                keyfile.apply_changes(db, [(tuple(row), bool(deleted)) for *row, deleted in changes])
                keyfile.write_mark(db, current, _snapshot_time(con, current))
                return len(changes)
    return _rebuild(con, db, current)


def _rebuild(con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, current: int) -> int:
    for statement in (keyfile.DROP + keyfile.LAYOUT).split(";"):
        if statement.strip():
            db.execute(statement)
    count = 0
    result = con.execute(_ALL_ROWS)
    while rows := result.fetchmany(_FETCH_ROWS):
        bands: list[tuple[int, int]] = []
        for row in rows:  # into empty tables: no earlier row to look up
            article = keyfile.insert_row(db, row)
            bands.extend((key, article) for key in band_keys(row[-1]))
        bands.sort()  # in key order, B-tree pages are written once each
        db.executemany(keyfile.ADD_BANDS, bands)
        count += len(rows)
    keyfile.write_mark(db, current, _snapshot_time(con, current))
    return count


def _current(con: duckdb.DuckDBPyConnection) -> int:
    return int(_one(con, _CURRENT))


def _snapshot_time(con: duckdb.DuckDBPyConnection, snapshot: int) -> str | None:
    row = con.execute(_SNAPSHOT_TIME, [snapshot]).fetchone()
    return str(row[0]) if row else None


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    if row is None:
        raise RuntimeError(f"no answer to {sql!r}")
    return row[0]
