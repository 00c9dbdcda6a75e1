"""The key index: every stored URL in a local SQLite file, so a batch's lookups cost O(batch · log lake).

DuckLake has no indexes (its files prune only on min/max statistics, and URLs are spread over every
file), so asking "is this URL stored?" of ``article_store`` reads the URLs of the whole lake. The key
index is derived state beside the lake, like the search index: one row per stored URL (its GUID, fetch
bookkeeping and story), B-tree indexed, and the lake snapshot it holds (the mark). It catches up from
DuckLake's change feed before each use, in one SQLite transaction with its mark, so a kill at any point
leaves it at an older mark that the next use catches up from. It is rebuilt from the lake when it is
missing, from another lake, older than the snapshots the lake still keeps, or of an older layout.

Each machine has its own (beside the search index); the lake stays the only truth, and every lookup a
writer trusts is made inside the transaction that writes, on an index caught up with that transaction's
snapshot.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from core.records import FeedEntry
from tasks.wirecopy import StoredArticle, band_keys
from warehouse.lake import attached_lake, lake_of

# Raised when the layout below changes: an index of another version is rebuilt, never misread.
_VERSION = 3
_LAYOUT = """
CREATE TABLE IF NOT EXISTS mark (
    only INTEGER PRIMARY KEY CHECK (only = 0),
    version INTEGER NOT NULL,
    snapshot INTEGER NOT NULL,    -- every article change through this snapshot is in
    snapshot_time TEXT NOT NULL   -- that snapshot's time: a lake made anew under the same name differs
);
CREATE TABLE IF NOT EXISTS article (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    feed_url TEXT,
    guid TEXT,
    retryable INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    fetched_us INTEGER NOT NULL,  -- microseconds since the epoch, UTC
    seen_us INTEGER NOT NULL,     -- coalesce(published_at, fetched_at), as story keys have it
    story_id TEXT,
    fingerprint BLOB              -- tasks.wirecopy's, for a story candidate's containment estimate
);
-- Its LSH band keys (tasks.wirecopy.band_keys, 64 an article): the lake's story_keys, by key.
CREATE TABLE IF NOT EXISTS band (
    key INTEGER NOT NULL,
    article INTEGER NOT NULL,
    PRIMARY KEY (key, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_guid ON article (feed_url, guid) WHERE guid IS NOT NULL;
CREATE INDEX IF NOT EXISTS article_story ON article (story_id);
"""
_HAS_LAYOUT = "SELECT 1 FROM sqlite_master WHERE name = 'mark'"
_DROP = "DROP TABLE IF EXISTS band; DROP TABLE IF EXISTS article; DROP TABLE IF EXISTS mark;"
_READ_MARK = "SELECT version, snapshot, snapshot_time FROM mark"
_WRITE_MARK = "INSERT OR REPLACE INTO mark VALUES (0, ?, ?, ?)"
_FIND = "SELECT id, fingerprint FROM article WHERE url = ?"
_INSERT = "INSERT INTO article VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPDATE = """
UPDATE article SET feed_url = ?, guid = ?, retryable = ?, attempts = ?, fetched_us = ?, seen_us = ?,
                   story_id = ?, fingerprint = ?
WHERE id = ?
"""
_DELETE = "DELETE FROM article WHERE id = ?"
_ADD_BANDS = "INSERT OR IGNORE INTO band VALUES (?, ?)"
_DROP_BANDS = "DELETE FROM band WHERE key = ? AND article = ?"
_RENAME = "UPDATE article SET story_id = ? WHERE story_id = ?"  # as warehouse.stories renames in the lake
# A list travels as one JSON parameter: one statement per lookup, whatever the batch's size.
_BY_URL = (
    "SELECT url, retryable, attempts, fetched_us FROM article WHERE url IN (SELECT value FROM json_each(?))"
)
_BY_GUID = """
SELECT a.url, j.value ->> 0, a.retryable, a.attempts, a.fetched_us
FROM json_each(?) j JOIN article a ON a.feed_url = j.value ->> 1 AND a.guid = j.value ->> 2
"""
# Story candidates: stored articles sharing a band key with the batch, within the window, with when
# they appeared, their fingerprint, their story and when that story's first copy did.
_CANDIDATES = """
SELECT DISTINCT a.url, a.seen_us, a.fingerprint, coalesce(a.story_id, a.url), coalesce(r.seen_us, a.seen_us)
FROM json_each(?) j JOIN band b ON b.key = j.value JOIN article a ON a.id = b.article
LEFT JOIN article r ON r.url = coalesce(a.story_id, a.url)
WHERE a.seen_us BETWEEN ? AND ? AND a.fingerprint IS NOT NULL
"""


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
KeyRow = tuple[str, str | None, str | None, bool, int, int, int, str | None, bytes | None]


@dataclass(frozen=True)
class StoredKey:
    """What the index knows of one stored URL's fetch: whether it may be fetched (and written) again."""

    retryable: bool
    attempts: int
    fetched_at: datetime

    def due(self, now: datetime, max_attempts: int, base_minutes: int) -> bool:
        """Whether a failed fetch's pause is over and attempts are left (a settled article never is)."""
        if not self.retryable or self.attempts >= max_attempts:
            return False
        # As DuckDB's CAST(? * pow(2, attempts - 1) AS BIGINT) did: rounded to whole minutes.
        pause = timedelta(minutes=round(base_minutes * math.pow(2, self.attempts - 1)))
        return self.fetched_at + pause <= now


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
    with _open(path) as db:
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
    with _open(path) as db:
        found = {
            url: StoredKey(bool(r), n, _time(us))
            for url, r, n, us in db.execute(_BY_URL, [json.dumps([e.url for e in entries])])
        }
        pairs = [[e.url, e.feed_url, e.guid] for e in entries if e.guid and e.feed_url]
        by_guid = db.execute(_BY_GUID, [json.dumps(pairs)]).fetchall() if pairs else []
    known_urls = {url for url, key in found.items() if not key.due(now, max_attempts, base_minutes)}
    for _, entry_url, r, n, us in by_guid:
        if not StoredKey(bool(r), n, _time(us)).due(now, max_attempts, base_minutes):
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


class KeyIndex:
    """An open key index: a store's lookups and its record on one connection, so one page cache.

    A store looks up its batch's URLs and band keys, then writes the same keys' rows: on one
    connection the B-tree pages the lookups read are still cached when the writes need them, where a
    connection per call read each of them from the file again (``make bench-keyindex``).
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def stored(self, urls: Iterable[str]) -> dict[str, StoredKey]:
        """Return what the index knows of each of ``urls`` that is stored."""
        return {
            url: StoredKey(bool(r), n, _time(us))
            for url, r, n, us in self._db.execute(_BY_URL, [json.dumps(list(urls))])
        }

    def candidates(self, band_keys: Iterable[int], low: datetime, high: datetime) -> list[StoredArticle]:
        """Return the stored articles that share a band key with ``band_keys`` and appeared in [low, high].

        Args:
            band_keys: The batch's LSH band keys.
            low: The window's start (the batch's earliest time minus the wire-copy window).
            high: Its end.

        Returns:
            The candidates, for :func:`tasks.wirecopy.assign_stories`.
        """
        params = [json.dumps(sorted(set(band_keys))), _micros(low), _micros(high)]
        rows = self._db.execute(_CANDIDATES, params).fetchall()
        return [
            StoredArticle(url, _time(seen), fp, story, _time(first)) for url, seen, fp, story, first in rows
        ]

    def record(
        self,
        after: int,
        snapshot: int,
        rows: Sequence[KeyRow],
        renamed: Mapping[str, str],
        snapshot_time: str,
    ) -> bool:
        """Take in what one commit wrote, when it is the only one since the index's mark.

        Reading the change feed for a batch the process has just written costs more than the batch's
        own statements; the rows it wrote are at hand. Only when the mark is ``after`` and the commit
        made snapshot ``after + 1`` is that exact; otherwise the next :func:`catch_up` reads the change
        feed.

        Args:
            after: The snapshot the writing transaction read (its catch-up's).
            snapshot: The lake's snapshot right after the commit.
            rows: The articles written, as stored (:func:`key_row`).
            renamed: Stories renamed by the commit (old story_id -> new).
            snapshot_time: That snapshot's time.

        Returns:
            Whether the index took it in (False: it stays at its mark for the next catch-up).
        """
        if snapshot != after + 1:
            return False
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                mark = db.execute(_READ_MARK).fetchone()
                if mark is None or mark[0] != _VERSION or mark[1] != after:
                    db.execute("ROLLBACK")
                    return False
                _apply(db, [(row, False) for row in rows])
                db.executemany(_RENAME, [(new, old) for old, new in renamed.items()])
                _mark(db, snapshot, snapshot_time)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            return False  # the lake has committed: the index stays behind, and the next catch-up reads it
        return True


@contextmanager
def session(path: Path) -> Iterator[KeyIndex]:
    """Open the index for a store's lookups and record (catch it up first, with :func:`catch_up_to`)."""
    with _open(path) as db:
        yield KeyIndex(db)


def key_row(
    url: str,
    feed_url: str | None,
    guid: str | None,
    retryable: bool,
    attempts: int,
    fetched_at: datetime,
    seen_at: datetime,
    story_id: str | None,
    fingerprint: bytes | None,
) -> KeyRow:
    """One article as the index holds it (the columns :data:`_COLUMNS` reads from the lake)."""
    return (
        url,
        feed_url,
        guid,
        retryable,
        attempts,
        _micros(fetched_at),
        _micros(seen_at),
        story_id,
        fingerprint,
    )


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
    mark = db.execute(_READ_MARK).fetchone()
    if mark is not None and mark[0] == _VERSION and mark[1] <= current:
        _, snapshot, snapshot_time = mark
        if snapshot == current and _snapshot_time(con, current) == snapshot_time:
            return 0
        if _snapshot_time(con, snapshot) == snapshot_time:  # the same lake's history, still kept
            try:
                changes = con.execute(_CHANGES, [snapshot + 1, current]).fetchall()
            except duckdb.Error:  # the snapshots since the mark expired: rebuild
                changes = None
            if changes is not None:
                _apply(db, [(tuple(row), bool(deleted)) for *row, deleted in changes])
                _mark(db, current, _snapshot_time(con, current))
                return len(changes)
    return _rebuild(con, db, current)


def _rebuild(con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, current: int) -> int:
    for statement in (_DROP + _LAYOUT).split(";"):
        if statement.strip():
            db.execute(statement)
    count = 0
    result = con.execute(_ALL_ROWS)
    while rows := result.fetchmany(_FETCH_ROWS):
        bands: list[tuple[int, int]] = []
        for row in rows:  # into empty tables: no earlier row to look up
            article = _insert(db, row)
            bands.extend((key, article) for key in band_keys(row[-1]))
        bands.sort()  # in key order, B-tree pages are written once each
        db.executemany(_ADD_BANDS, bands)
        count += len(rows)
    _mark(db, current, _snapshot_time(con, current))
    return count


class _Bands:
    """The band rows a run of changes adds and drops, written in key order at the end.

    A batch's 3,200 band keys are random: inserted as they come, each lands on another B-tree page,
    so the tree is walked from the root 3,200 times in random order. Sorted, consecutive writes share
    their path, and each page is visited once. The two sets stay disjoint, so writing the drops before
    the adds gives what applying each change in turn would.
    """

    def __init__(self) -> None:
        self.adds: set[tuple[int, int]] = set()
        self.drops: set[tuple[int, int]] = set()

    def add(self, fingerprint: bytes | None, article: int) -> None:
        for key in band_keys(fingerprint):
            self.drops.discard((key, article))
            self.adds.add((key, article))

    def drop(self, fingerprint: bytes | None, article: int) -> None:
        for key in band_keys(fingerprint):
            self.adds.discard((key, article))
            self.drops.add((key, article))

    def write(self, db: sqlite3.Connection) -> None:
        db.executemany(_DROP_BANDS, sorted(self.drops))
        db.executemany(_ADD_BANDS, sorted(self.adds))


def _apply(db: sqlite3.Connection, changes: Sequence[tuple[KeyRow, bool]]) -> None:
    """Apply article changes in order, ``(row, deleted)`` each; their band rows in key order."""
    bands = _Bands()
    for row, deleted in changes:
        _remove(db, row[0], bands) if deleted else _put(db, row, bands)
    bands.write(db)


def _put(db: sqlite3.Connection, row: KeyRow, bands: _Bands) -> None:
    """Insert or update one article's row; its band keys change when its fingerprint does."""
    found = db.execute(_FIND, [row[0]]).fetchone()
    fingerprint = row[-1]
    if found is None:
        bands.add(fingerprint, _insert(db, row))
        return
    article, old = found
    db.execute(_UPDATE, [*row[1:], article])
    if old != fingerprint:
        bands.drop(old, article)
        bands.add(fingerprint, article)


def _insert(db: sqlite3.Connection, row: KeyRow) -> int:
    article = db.execute(_INSERT, row).lastrowid
    if article is None:
        raise sqlite3.DatabaseError("an inserted article has no row id")
    return article


def _remove(db: sqlite3.Connection, url: str, bands: _Bands) -> None:
    found = db.execute(_FIND, [url]).fetchone()
    if found is not None:
        article, fingerprint = found
        bands.drop(fingerprint, article)
        db.execute(_DELETE, [article])


def _mark(db: sqlite3.Connection, snapshot: int, snapshot_time: str | None) -> None:
    db.execute(_WRITE_MARK, [_VERSION, snapshot, snapshot_time or ""])


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _micros(moment: datetime) -> int:
    # A naive time is UTC, as the Arrow tables the lake is written from take it.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    """Open the index (made on first use); autocommit, so transactions are the caller's BEGINs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=300, isolation_level=None)) as db:
        # WAL: readers (a worker's selection of new entries) never wait for a catch-up; NORMAL sync is
        # safe for derived state (a lost last transaction is caught up again from the lake).
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # A batch's 3,200 band keys touch as many B-tree pages: SQLite's default 2 MB cache holds
        # 500, so the record after the lookups would read most of them again (64 MB, taken as used).
        db.execute("PRAGMA cache_size = -65536")
        if not db.execute(_HAS_LAYOUT).fetchone():
            db.executescript(_LAYOUT)
        yield db
