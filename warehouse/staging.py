"""Staged batches: many writers on one lake, one merger at a time.

DuckLake 1.5.5 lets any number of sessions append to a table at once, but two sessions merging into
one table conflict, and two merging the same new URL would both commit it. So on a shared lake
(PostgreSQL catalog) a run appends each finished batch to ``staged_batches`` without waiting for
anyone, and whoever holds the lake's lock folds the pending batches into the article store, batch by
batch, with the very statements an embedded lake uses (:func:`warehouse.articles.store_articles`).
The merge records each batch in ``merged_batches`` in the same transaction, so a batch is merged
exactly once, however many writers there are and whenever one of them is killed.

A run tries to merge after each batch it stages (without waiting when another writer is merging) and
merges what is pending at its end, waiting for the lock, so its articles are in ``articles`` and in
search when it ends. Batches staged by a killed run are merged by the next run that merges.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

from core.errors import WirehouseError, first_line
from core.records import Article, Quote
from tasks.search import SearchError
from warehouse.articles import ARTICLE_SCHEMA, store_articles, store_isolating
from warehouse.connection import (
    WarehouseMemoryError,
    confirm_lock,
    is_shared,
    lake_of,
    open_warehouse,
    rollback,
    try_write_lock,
    write_lock,
)
from warehouse.search import catch_up_search_index

logger = logging.getLogger(__name__)
# One merge at a time in a process: its batch threads would otherwise all share the (re-entrant) lock
# and fold the same pending batches in turn.
_MERGING = threading.Lock()

# Pending batches read per round: those of one run are merged in one transaction.
_MERGE_ROUND = 16
_QUOTES = pa.list_(
    pa.struct([("ordinal", pa.int32()), ("text", pa.string()), ("start", pa.int32()), ("end", pa.int32())])
)
# The payload: every stored article column (so it follows the article store as that grows), the
# raw HTML (compressed as the workers did it, core.rawhtml) with its charset, and the quotes.
PAYLOAD_SCHEMA = pa.schema(
    [f for f in ARTICLE_SCHEMA if f.name != "run_id"]
    + [
        pa.field("charset", pa.string()),
        pa.field("raw_html_zlib", pa.binary()),
        pa.field("quotes", _QUOTES),
    ]
)
_ARTICLE_FIELDS = {f.name for f in fields(Article)}
_UNREADABLE = -1  # merged_batches.articles of a staged batch that could not be read back

_STAGE = "INSERT INTO staged_batches VALUES (?, ?, ?, ?, ?, ?)"
# Attempts at staging a batch: an append fails only when a delete of merged batches committed
# meanwhile (DuckLake 1.5.5), and then nothing was written and the next attempt succeeds.
_STAGE_ATTEMPTS = 5
# Pending batches staged up to a point in time: a merge takes what was pending when it began, so
# writers that stage faster than one merger folds in can never keep it from finishing.
_PENDING = """
SELECT s.batch_id, s.run_id, s.replace_rows, s.payload FROM staged_batches s
WHERE NOT EXISTS (SELECT 1 FROM merged_batches m WHERE m.batch_id = s.batch_id)
  AND s.staged_at <= ?
ORDER BY s.staged_at, s.batch_id
LIMIT ?
"""
_LAST_PENDING = """
SELECT max(s.staged_at) FROM staged_batches s
WHERE NOT EXISTS (SELECT 1 FROM merged_batches m WHERE m.batch_id = s.batch_id)
"""
_PENDING_COUNT = """
SELECT count(*) FROM staged_batches s
WHERE NOT EXISTS (SELECT 1 FROM merged_batches m WHERE m.batch_id = s.batch_id)
  AND (CAST(? AS VARCHAR) IS NULL OR s.run_id = ?)
"""
_MARK_MERGED = "INSERT INTO merged_batches VALUES (?, ?, ?)"
_IS_MERGED = "SELECT count(*) FROM merged_batches WHERE batch_id = ?"
# Merged batches leave staging. A delete conflicts with another writer's append made meanwhile;
# then it is left for the next merge (or maintenance): nothing depends on it but disk space.
_DROP_MERGED = "DELETE FROM staged_batches WHERE batch_id IN (SELECT batch_id FROM merged_batches)"
# The ledger of merged batches is only needed while their staged copy exists (maintenance, exclusive).
_PRUNE_LEDGER = "DELETE FROM merged_batches WHERE batch_id NOT IN (SELECT batch_id FROM staged_batches)"


@dataclass(frozen=True)
class MergeResult:
    """What one merge did."""

    batches: int = 0
    articles: int = 0
    merged: bool = True  # False: another writer held the lock and we did not wait


def encode_batch(articles: Sequence[Article]) -> bytes:
    """Serialise a batch for staging: one Arrow IPC stream, zstd-compressed.

    Args:
        articles: The batch (raw HTML compressed or not).

    Returns:
        The payload.
    """
    from core.rawhtml import compress_html

    columns: dict[str, list[Any]] = {name: [] for name in PAYLOAD_SCHEMA.names}
    for article in articles:
        for name in PAYLOAD_SCHEMA.names:
            if name == "raw_html_zlib":
                value: Any = article.raw_html_zlib or (
                    compress_html(article.raw_html) if article.raw_html else None
                )
            elif name == "quotes":
                value = [
                    {"ordinal": q.ordinal, "text": q.text, "start": q.start, "end": q.end}
                    for q in article.quotes
                ]
            else:
                value = getattr(article, name)
                value = list(value) if isinstance(value, tuple) else value
            columns[name].append(value)
    table = pa.table(columns, schema=PAYLOAD_SCHEMA)
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue()


def decode_batch(payload: bytes) -> list[Article]:
    """Read a staged payload back into articles (columns an older or newer version wrote are tolerated).

    Args:
        payload: What :func:`encode_batch` wrote.

    Returns:
        The articles, in order.
    """
    table = ipc.open_stream(pa.BufferReader(payload)).read_all()
    articles = []
    for row in table.to_pylist():
        values: dict[str, Any] = {}
        for name, value in row.items():
            if name == "quotes":
                values[name] = tuple(
                    Quote(q["ordinal"], q["text"], q["start"], q["end"]) for q in value or ()
                )
            elif name in _ARTICLE_FIELDS:
                values[name] = tuple(value) if isinstance(value, list) else value
        articles.append(Article(**values))
    return articles


def stage_batch(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article], run_id: str | None, *, replace: bool = False
) -> str | None:
    """Append a batch to staging (no lock: appends from many writers never conflict).

    Args:
        con: Read-write connection.
        articles: The batch.
        run_id: The run that made it.
        replace: The batch re-processes stored pages (overwrite them when merged).

    Returns:
        The staged batch's id; None for an empty batch.
    """
    if not articles:
        return None
    batch_id = uuid.uuid4().hex
    values: list[Any] = [batch_id, run_id, replace, [a.url for a in articles], None, encode_batch(articles)]
    for attempt in range(1, _STAGE_ATTEMPTS + 1):
        values[4] = datetime.now(UTC)
        try:
            con.execute(_STAGE, values)
            return batch_id
        except duckdb.TransactionException:
            if attempt == _STAGE_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def pending_batches(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> int:
    """Count staged batches not merged yet (of one run, or of every run)."""
    row = con.execute(_PENDING_COUNT, [run_id, run_id]).fetchone()
    return int(row[0]) if row else 0


def _merge_pending(con: duckdb.DuckDBPyConnection, path: Path | str) -> MergeResult:
    """Fold the batches pending now into the article store (the lock is held).

    The batches of one run that are pending together are merged in one transaction: a merger that
    falls behind many writers catches up in fewer, larger transactions.
    """
    row = con.execute(_LAST_PENDING).fetchone()
    until = row[0] if row else None
    batches = count = 0
    while until is not None:
        pending = con.execute(_PENDING, [until, _MERGE_ROUND]).fetchall()
        if not pending:
            break
        groups: dict[tuple[str | None, bool], list[tuple[str, bytes]]] = {}
        for batch_id, run_id, replace, payload in pending:
            groups.setdefault((run_id, bool(replace)), []).append((batch_id, payload))
        for (run_id, replace), members in groups.items():
            try:
                count += _merge_group(con, path, members, run_id, replace)
            except WarehouseMemoryError:
                if len(members) == 1:
                    raise
                # Too big to merge at once: one batch per transaction instead.
                for member in members:
                    count += _merge_group(con, path, [member], run_id, replace)
            batches += len(members)
    return MergeResult(batches=batches, articles=count)


def _merge_group(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    members: list[tuple[str, bytes]],
    run_id: str | None,
    replace: bool,
) -> int:
    """Merge staged batches of one run in one transaction; return their number of articles."""
    ledger: list[tuple[str, int]] = []
    articles: list[Article] = []
    seen: set[str] = set()
    for batch_id, payload in members:
        try:
            decoded = decode_batch(payload)
        except Exception as exc:  # written by another version, or damaged: set aside, not retried forever
            logger.error(
                "staged batch %s cannot be read and is set aside: %s: %s", batch_id, type(exc).__name__, exc
            )
            ledger.append((batch_id, _UNREADABLE))
            continue
        ledger.append((batch_id, len(decoded)))
        for article in decoded:  # one row per URL: the first staged copy is the one merged
            if article.url not in seen:
                seen.add(article.url)
                articles.append(article)

    def store(part: list[Article]) -> int:
        # The whole group and its ledger rows commit together; a group that store_isolating had to
        # split (a bad article) is recorded after its parts, below. Each commit first makes sure
        # the lock is still ours: a lost lease must not let two mergers store one URL twice.
        whole = len(part) == len(articles)
        return store_articles(
            con,
            part,
            run_id,
            replace=replace,
            merged_batches=ledger if whole else (),
            before_commit=lambda: confirm_lock(path),
        )

    stored = store_isolating(store, articles) if articles else articles
    if not articles or stored is not articles:  # recorded now (merging them again would change nothing)
        now = datetime.now(UTC)
        for batch_id, size in ledger:
            row = con.execute(_IS_MERGED, [batch_id]).fetchone()
            if not row or not row[0]:
                con.execute(_MARK_MERGED, [batch_id, now, size])
    return sum(size for _, size in ledger if size > 0)


def _drop_merged(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(_DROP_MERGED)
        con.execute("COMMIT")
    except duckdb.Error as exc:  # another writer appended meanwhile: the next merge drops them
        rollback(con)
        logger.debug("merged batches stay staged for now: %s", first_line(exc))


def merge_staged(path: Path | str, *, wait: bool = True, timeout: float = 600.0) -> MergeResult:
    """Merge the staged batches of a shared lake that are pending now (a no-op for an embedded one).

    Args:
        path: The warehouse.
        wait: Wait for the lake's lock (a run's last merge, which also drops merged batches from
            staging); False returns at once when another writer holds it (that writer, or the
            run's last merge, takes the batches then).
        timeout: Seconds to wait for the lock.

    Returns:
        What was merged.
    """
    if not is_shared(path):
        return MergeResult()
    if not _MERGING.acquire(blocking=wait):
        return MergeResult(merged=False)  # this process is merging already; it takes these batches too
    try:
        with ExitStack() as stack:
            if wait:
                stack.enter_context(write_lock(path, timeout))
            elif not stack.enter_context(try_write_lock(path)):
                return MergeResult(merged=False)
            con = stack.enter_context(open_warehouse(path))
            # The index is brought up to date from the lake's change feed rather than batch by
            # batch: that way it also takes what other machines merged into the lake.
            result = _merge_pending(con, path)
            if wait and result.batches:
                # Once per run, not per batch: each delete makes a concurrent append retry.
                _drop_merged(con)
        _catch_up_search(path)
        return result
    finally:
        _MERGING.release()


def _catch_up_search(path: Path | str) -> None:
    """Bring this machine's search index up to date; a busy or broken index must not fail the run."""
    try:
        with open_warehouse(path) as con:
            catch_up_search_index(con, lake_of(path).search_dir)
    except SearchError as exc:
        logger.warning("search index not brought up to date this time: %s", exc)


def save_batch(
    path: Path | str,
    articles: Sequence[Article],
    run_id: str | None,
    *,
    replace: bool = False,
    with_kept: Callable[[duckdb.DuckDBPyConnection, Sequence[Article]], None] | None = None,
) -> list[Article]:
    """Store a batch: directly on an embedded lake; staged, then merged if the lock is free, on a shared one.

    Args:
        path: The warehouse.
        articles: The batch.
        run_id: The run.
        replace: Re-processing: overwrite stored articles.
        with_kept: On an embedded lake, called inside the store's transaction with the articles it
            writes (:func:`warehouse.articles.store_articles`); a shared lake's merge does not call it.

    Returns:
        The articles as stored (on an embedded lake an article the warehouse refused is replaced by
        its error row; on a shared lake that happens when the batch is merged).
    """
    if not is_shared(path):
        search_dir = lake_of(path).search_dir
        with open_warehouse(path) as con:
            return store_isolating(
                lambda part: store_articles(
                    con, part, run_id, replace=replace, search_dir=search_dir, with_kept=with_kept
                ),
                list(articles),
            )
    with open_warehouse(path) as con:
        stage_batch(con, articles, run_id, replace=replace)
    try:
        merge_staged(path, wait=False)
    except WirehouseError as exc:
        # The batch is staged, so it is safe: the run's last merge (or the next run's) takes it, and
        # reports the error if it persists.
        logger.warning("merging staged batches failed for now: %s", exc)
    return list(articles)


def prune_merged(con: duckdb.DuckDBPyConnection) -> None:
    """Drop merged batches from staging and their ledger rows (maintenance); best effort.

    Another writer's append committed meanwhile makes the delete conflict; then it waits for the
    next maintenance run (nothing depends on it but space).
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_DROP_MERGED)
        con.execute(_PRUNE_LEDGER)
        con.execute("COMMIT")
    except duckdb.TransactionException as exc:
        rollback(con)
        logger.info("merged batches stay staged until the next maintenance run: %s", first_line(exc))
    except BaseException:
        rollback(con)
        raise
