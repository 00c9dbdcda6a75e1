"""The key index's SQLite file: its layout, its lookups and how changes are written to it.

`warehouse.keys` keeps the file caught up with the lake (change feed, rebuild); this module knows
only the file, never DuckDB.
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

from tasks.wirecopy import StoredArticle, band_keys

# Raised when the layout below changes: an index of another version is rebuilt, never misread.
VERSION = 3
LAYOUT = """
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
DROP = "DROP TABLE IF EXISTS band; DROP TABLE IF EXISTS article; DROP TABLE IF EXISTS mark;"
READ_MARK = "SELECT version, snapshot, snapshot_time FROM mark"
WRITE_MARK = "INSERT OR REPLACE INTO mark VALUES (0, ?, ?, ?)"
_FIND = "SELECT id, fingerprint FROM article WHERE url = ?"
INSERT = "INSERT INTO article VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPDATE = """
UPDATE article SET feed_url = ?, guid = ?, retryable = ?, attempts = ?, fetched_us = ?, seen_us = ?,
                   story_id = ?, fingerprint = ?
WHERE id = ?
"""
_DELETE = "DELETE FROM article WHERE id = ?"
ADD_BANDS = "INSERT OR IGNORE INTO band VALUES (?, ?)"
_DROP_BANDS = "DELETE FROM band WHERE key = ? AND article = ?"
_RENAME = "UPDATE article SET story_id = ? WHERE story_id = ?"  # as warehouse.stories renames in the lake
# A list travels as one JSON parameter: one statement per lookup, whatever the batch's size.
BY_URL = (
    "SELECT url, retryable, attempts, fetched_us FROM article WHERE url IN (SELECT value FROM json_each(?))"
)
BY_GUID = """
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
            url: StoredKey(bool(r), n, to_time(us))
            for url, r, n, us in self._db.execute(BY_URL, [json.dumps(list(urls))])
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
        params = [json.dumps(sorted(set(band_keys))), micros(low), micros(high)]
        rows = self._db.execute(_CANDIDATES, params).fetchall()
        return [
            StoredArticle(url, to_time(seen), fp, story, to_time(first))
            for url, seen, fp, story, first in rows
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
                mark = db.execute(READ_MARK).fetchone()
                if mark is None or mark[0] != VERSION or mark[1] != after:
                    db.execute("ROLLBACK")
                    return False
                apply_changes(db, [(row, False) for row in rows])
                db.executemany(_RENAME, [(new, old) for old, new in renamed.items()])
                write_mark(db, snapshot, snapshot_time)
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
    with open_file(path) as db:
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
        micros(fetched_at),
        micros(seen_at),
        story_id,
        fingerprint,
    )


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
        db.executemany(ADD_BANDS, sorted(self.adds))


def apply_changes(db: sqlite3.Connection, changes: Sequence[tuple[KeyRow, bool]]) -> None:
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
        bands.add(fingerprint, insert_row(db, row))
        return
    article, old = found
    db.execute(_UPDATE, [*row[1:], article])
    if old != fingerprint:
        bands.drop(old, article)
        bands.add(fingerprint, article)


def insert_row(db: sqlite3.Connection, row: KeyRow) -> int:
    """Insert one article's row into tables that do not hold its URL; return its row id."""
    article = db.execute(INSERT, row).lastrowid
    if article is None:
        raise sqlite3.DatabaseError("an inserted article has no row id")
    return article


def _remove(db: sqlite3.Connection, url: str, bands: _Bands) -> None:
    found = db.execute(_FIND, [url]).fetchone()
    if found is not None:
        article, fingerprint = found
        bands.drop(fingerprint, article)
        db.execute(_DELETE, [article])


def write_mark(db: sqlite3.Connection, snapshot: int, snapshot_time: str | None) -> None:
    """Record the lake snapshot (and its time) the index now holds."""
    db.execute(WRITE_MARK, [VERSION, snapshot, snapshot_time or ""])


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_time(us: int) -> datetime:
    """A time as the index stores it (microseconds since the epoch) back to a UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def micros(moment: datetime) -> int:
    """A time as the index stores it: microseconds since the epoch, UTC."""
    # A naive time is UTC, as the Arrow tables the lake is written from take it.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


@contextmanager
def open_file(path: Path) -> Iterator[sqlite3.Connection]:
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
            db.executescript(LAYOUT)
        yield db
