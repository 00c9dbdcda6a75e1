"""Revisions: the due re-checks, the versions that changed and the articles found removed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from core.records import Article, Recheck, Removal, Revision
from warehouse.articles import BATCH_WRITES
from warehouse.connection import execute_with, transaction

_TS = pa.timestamp("us", tz="UTC")
RECHECK_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("feed_url", pa.string()),
        ("link", pa.string()),
        ("guid", pa.string()),
        ("first_seen_at", _TS),
        ("checks", pa.int32()),
        ("due_at", _TS),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("fingerprint", pa.binary()),
        ("revisions", pa.int32()),
    ]
)
REVISION_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("revision", pa.int32()),
        ("fetched_at", _TS),
        ("title", pa.string()),
        ("text", pa.string()),
        ("changed_title", pa.bool_()),
        ("words_added", pa.int32()),
        ("words_removed", pa.int32()),
        ("summary", pa.string()),
        ("is_correction", pa.bool_()),
        ("run_id", pa.string()),
    ]
)
REMOVAL_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("removed_at", _TS),
        ("http_status", pa.int32()),
        ("final_url", pa.string()),
        ("run_id", pa.string()),
    ]
)
_RECHECK_COLUMNS = (
    "url, feed_url, link, guid, first_seen_at, checks, due_at, etag, last_modified, title, text, "
    "fingerprint, revisions"
)
# The table holds only articles with a re-check still to come, so reading its due rows is O(due).
_DUE = f"SELECT {_RECHECK_COLUMNS} FROM article_rechecks WHERE due_at <= ? ORDER BY due_at, url"  # noqa: S608
_WAITING = "SELECT count(*) FROM article_rechecks"
_APPEND_RECHECKS = f"INSERT INTO article_rechecks SELECT {_RECHECK_COLUMNS} FROM rechecks"  # noqa: S608
_DROP_RECHECKS = "DELETE FROM article_rechecks WHERE url IN (SELECT unnest(?::VARCHAR[]))"
_APPEND_REVISIONS = "INSERT INTO article_revisions SELECT * FROM revision_rows"
_APPEND_REMOVALS = "INSERT INTO article_removals SELECT * FROM removal_rows"
# Re-processing re-extracted these articles with the current code: later versions are compared with
# that text, or a change of the extraction code would look like an edit by the newsroom.
_REFRESH_RECHECKS = """
UPDATE article_rechecks SET title = r.title, text = r.text, fingerprint = r.fingerprint
FROM refreshed r WHERE article_rechecks.url = r.url
"""
_REFRESH_SCHEMA = pa.schema(
    [("url", pa.string()), ("title", pa.string()), ("text", pa.string()), ("fingerprint", pa.binary())]
)
# Re-processing re-extracts the page the lake keeps, raw_pages' one per URL: that of the article's latest
# version, whose revision row has its fetch time. Earlier versions' pages were replaced by later ones, so
# their rows keep the text they were extracted with (counted, so that reprocess can say so).
_REPROCESSED_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("fetched_at", _TS),
        ("title", pa.string()),
        ("text", pa.string()),
        ("ok", pa.bool_()),
    ]
)
_COUNT_VERSIONS = """
SELECT count(*) FILTER (WHERE v.fetched_at = r.fetched_at AND r.ok), count(*) FILTER (WHERE v.fetched_at <> r.fetched_at)
FROM article_revisions v JOIN reprocessed r ON v.url = r.url
"""
_REFRESH_REVISIONS = """
UPDATE article_revisions SET title = r.title, text = r.text
FROM reprocessed r WHERE article_revisions.url = r.url AND article_revisions.fetched_at = r.fetched_at AND r.ok
"""
_REVISIONS_OF = """
SELECT revision, fetched_at, title, text, changed_title, words_added, words_removed, summary, is_correction
FROM article_revisions WHERE url = ? ORDER BY revision
"""
_FIRST_VERSION = "SELECT title, text, fetched_at FROM article_store WHERE url = ?"


def schedule_rechecks(con: duckdb.DuckDBPyConnection, rechecks: Sequence[Recheck]) -> int:
    """Add newly stored articles' first re-checks (an append: concurrent writers never conflict).

    Args:
        con: Read-write connection.
        rechecks: One per article.

    Returns:
        Re-checks added.
    """
    with BATCH_WRITES:
        append_rechecks(con, rechecks)
    return len(rechecks)


def append_rechecks(con: duckdb.DuckDBPyConnection, rechecks: Sequence[Recheck]) -> None:
    """Append first re-checks inside the caller's transaction (the store's, which holds the lock)."""
    if rechecks:
        execute_with(con, "rechecks", _recheck_table(rechecks), _APPEND_RECHECKS)


def due_rechecks(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Recheck]:
    """Return every re-check due at ``now``, longest waiting first."""
    return [_recheck(row) for row in con.execute(_DUE, [now]).fetchall()]


def waiting_rechecks(con: duckdb.DuckDBPyConnection) -> int:
    """Articles with a re-check still to come."""
    row = con.execute(_WAITING).fetchone()
    return int(row[0]) if row else 0


def record_rechecks(
    con: duckdb.DuckDBPyConnection,
    done: Sequence[str],
    follow_ups: Sequence[Recheck],
    revisions: Sequence[Revision],
    removals: Sequence[Removal],
    run_id: str | None,
) -> None:
    """Store what a batch of re-checks found, in one transaction.

    Args:
        con: Read-write connection (the caller holds the write lock on a shared lake).
        done: URLs re-checked: their due rows are dropped.
        follow_ups: Their next re-checks (none for an article past its last age, or removed).
        revisions: Versions that changed (with revision 0, the first, when it is the first change).
        removals: Articles found gone.
        run_id: The run.
    """
    with BATCH_WRITES, transaction(con):
        if done:
            con.execute(_DROP_RECHECKS, [list(done)])
        execute_with(con, "rechecks", _recheck_table(follow_ups), _APPEND_RECHECKS)
        execute_with(con, "revision_rows", _revision_table(revisions, run_id), _APPEND_REVISIONS)
        execute_with(con, "removal_rows", _removal_table(removals, run_id), _APPEND_REMOVALS)


def refresh_rechecks(con: duckdb.DuckDBPyConnection, articles: Sequence[Article]) -> None:
    """Compare the next re-checks of re-processed articles with their re-extracted text.

    Args:
        con: Read-write connection (the caller holds the write lock on a shared lake).
        articles: The articles as re-processing stored them.
    """
    table = pa.Table.from_pylist(
        [
            {"url": a.url, "title": a.title, "text": a.text, "fingerprint": a.fingerprint}
            for a in articles
            if a.extraction_status == "ok" and a.text
        ],
        schema=_REFRESH_SCHEMA,
    )
    with BATCH_WRITES, transaction(con):
        execute_with(con, "refreshed", table, _REFRESH_RECHECKS)


def refresh_revisions(con: duckdb.DuckDBPyConnection, articles: Sequence[Article]) -> tuple[int, int]:
    """Rewrite the stored versions whose page the lake keeps with what re-processing extracted from it.

    Only the latest version's page is kept (raw_pages has one per URL), so earlier versions keep the
    title and text they were extracted with; their change columns always describe the newsroom's edit.

    Args:
        con: Read-write connection (the caller holds the write lock on a shared lake).
        articles: The articles as re-processing stored them.

    Returns:
        Versions re-extracted, and versions of these articles that could not be (no page of them kept).
    """
    table = pa.Table.from_pylist(
        [
            {
                "url": a.url,
                "fetched_at": a.fetched_at,
                "title": a.title,
                "text": a.text,
                "ok": a.extraction_status == "ok" and bool(a.text),
            }
            for a in articles
        ],
        schema=_REPROCESSED_SCHEMA,
    )
    if not table.num_rows:
        return 0, 0
    con.register("reprocessed", table)
    try:
        with BATCH_WRITES, transaction(con):
            row = con.execute(_COUNT_VERSIONS).fetchone()
            rewritten, without_page = (int(row[0]), int(row[1])) if row else (0, 0)
            if rewritten:
                con.execute(_REFRESH_REVISIONS)
    finally:
        con.unregister("reprocessed")
    return rewritten, without_page


def revisions_of(con: duckdb.DuckDBPyConnection, url: str) -> list[tuple[Any, ...]]:
    """Every stored version of one article, oldest first (none: never revised).

    Returns:
        Rows of (revision, fetched_at, title, text, changed_title, words_added, words_removed, summary,
        is_correction).
    """
    return con.execute(_REVISIONS_OF, [url]).fetchall()


def is_stored(con: duckdb.DuckDBPyConnection, url: str) -> bool:
    """Whether an article of this canonical URL is stored."""
    return con.execute(_FIRST_VERSION, [url]).fetchone() is not None


def _recheck(row: tuple[Any, ...]) -> Recheck:
    url, feed_url, link, guid, first, checks, due, etag, modified, title, text, fp, revisions = row
    return Recheck(
        url, feed_url, link, guid, first, int(checks), due, etag, modified, title, text,
        bytes(fp) if fp is not None else None, int(revisions),
    )  # fmt: skip


def _recheck_table(rechecks: Sequence[Recheck]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "url": r.url,
                "feed_url": r.feed_url,
                "link": r.link,
                "guid": r.guid,
                "first_seen_at": r.first_seen_at,
                "checks": r.checks,
                "due_at": r.due_at,
                "etag": r.etag,
                "last_modified": r.last_modified,
                "title": r.title,
                "text": r.text,
                "fingerprint": r.fingerprint,
                "revisions": r.revisions,
            }
            for r in rechecks
        ],
        schema=RECHECK_SCHEMA,
    )


def _revision_table(revisions: Sequence[Revision], run_id: str | None) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "url": r.url,
                "revision": r.revision,
                "fetched_at": r.fetched_at,
                "title": r.title,
                "text": r.text,
                "changed_title": r.change.changed_title,
                "words_added": r.change.words_added,
                "words_removed": r.change.words_removed,
                "summary": r.change.summary,
                "is_correction": r.change.is_correction,
                "run_id": run_id,
            }
            for r in revisions
        ],
        schema=REVISION_SCHEMA,
    )


def _removal_table(removals: Sequence[Removal], run_id: str | None) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "url": r.url,
                "removed_at": r.removed_at,
                "http_status": r.http_status,
                "final_url": r.final_url,
                "run_id": run_id,
            }
            for r in removals
        ],
        schema=REMOVAL_SCHEMA,
    )
