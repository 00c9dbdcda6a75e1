"""Connections and the run scope: how every part of wirehouse opens the warehouse (the lake is warehouse.lake).

Every connection is an in-memory DuckDB with the lake attached as ``news`` (and made the default
catalog), so any number of processes read it while one ingest writes. A run shares one attached
instance among its many short connections, converts an older single-file warehouse on first use,
and holds the run lock for what it writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

    from core.settings import Settings

import warehouse
from core.errors import first_line
from warehouse.convert import convert_legacy
from warehouse.lake import _USE_LAKE, attach, attached_lake, check_local, remember_lake
from warehouse.lake import LAKE as LAKE
from warehouse.lake import Lake as Lake
from warehouse.lake import QueryError as QueryError
from warehouse.lake import WarehouseBusyError as WarehouseBusyError
from warehouse.lake import WarehouseError as WarehouseError
from warehouse.lake import WarehouseMemoryError as WarehouseMemoryError
from warehouse.lake import lake_of as lake_of
from warehouse.lake import sql_string as sql_string
from warehouse.locks import _HELD_LOCKS_GUARD
from warehouse.locks import confirm_lock as confirm_lock
from warehouse.locks import warehouse_lock as warehouse_lock

logger = logging.getLogger(__name__)


def connect(
    warehouse: Path | str | Lake, *, read_only: bool = False, as_of: int | datetime | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse: an in-memory DuckDB with the lake attached as ``news`` and used by default.

    Each call loads the extensions and attaches the lake anew (about a second on a busy machine); a run
    opens its many short connections with :func:`open_warehouse` inside :func:`hold_warehouse`, which
    share one attached instance.

    Args:
        warehouse: A path (embedded lake) or a PostgreSQL address (see :func:`lake_of`).
        read_only: Attach for reading only (the lake must exist).
        as_of: Read the lake as it was at this snapshot version or time (implies read-only).

    Returns:
        An open connection; ``articles`` and the other views are ready.

    Raises:
        WarehouseError: Missing or unusable warehouse, missing extension, unknown snapshot.
    """
    lake = lake_of(warehouse)
    read_only = read_only or as_of is not None
    if lake.sqlite is not None:
        check_local(lake, read_only)
        if lake.legacy is not None and lake.legacy.is_file() and not lake.sqlite.is_file():
            convert_legacy(lake)
    return attach(lake, read_only=read_only, as_of=as_of)


_SET_MEMORY_LIMIT = "SET memory_limit = ?"
_RESET_MEMORY_LIMIT = "RESET memory_limit"


@dataclass
class _Shared:
    """One attached instance a process shares among its connections to one lake (cursors of it)."""

    con: duckdb.DuckDBPyConnection
    users: int


_SHARED: dict[tuple[str, bool], _Shared] = {}
_SHARED_GUARD = threading.Lock()


def _acquire(warehouse: Path | str, read_only: bool) -> tuple[tuple[str, bool], duckdb.DuckDBPyConnection]:
    key = (str(lake_of(warehouse).lock.absolute()), read_only)
    with _SHARED_GUARD:
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = _Shared(connect(warehouse, read_only=read_only), 0)
        shared.users += 1
        cursor = shared.con.cursor()
    try:
        cursor.execute(_USE_LAKE)
        lake = attached_lake(shared.con)
        if lake is not None:
            remember_lake(cursor, lake)
    except BaseException:
        cursor.close()
        _release(key)
        raise
    return key, cursor


def _release(key: tuple[str, bool]) -> None:
    with _SHARED_GUARD:
        shared = _SHARED[key]
        shared.users -= 1
        if shared.users == 0:
            del _SHARED[key]
            shared.con.close()


@contextmanager
def open_warehouse(
    path: Path | str, *, read_only: bool = False, migrate: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for the duration of a ``with`` block.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
        read_only: Open for reading only.
        migrate: Apply pending migrations and re-create the views first (once per run, not per task:
            concurrent view re-creation from two threads would conflict).

    Yields:
        The connection, closed on exit.
    """
    key, con = _acquire(path, read_only)
    try:
        # A shared lake's writers may start together: one migrates, the others then find it done; a
        # schema that is current needs no lock (commands that only read stay unblocked).
        if migrate and warehouse.needs_migration(con):
            with write_lock(path):
                warehouse.migrate(con)
        yield con
    finally:
        con.close()
        _release(key)


@contextmanager
def hold_warehouse(path: Path | str, memory_mb: int = 0) -> Iterator[None]:
    """Keep the warehouse attached for a whole run, so its many short connections share one instance.

    Loading the extensions and attaching the lake costs far more than a batch's statements; with the
    instance held, each :func:`open_warehouse` inside the block is a cheap cursor of it.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
        memory_mb: DuckDB's memory limit for the run in MiB (0: DuckDB's default, 80 % of RAM).

    Yields:
        Nothing; the lake stays attached inside the block.
    """
    key, con = _acquire(path, False)
    try:
        if memory_mb:
            con.execute(_SET_MEMORY_LIMIT, [f"{memory_mb}MiB"])
        yield
    finally:
        try:
            if memory_mb:
                con.execute(_RESET_MEMORY_LIMIT)
        finally:
            con.close()
            _release(key)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block as one transaction: all of it is stored, or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        rollback(con)
        raise
    con.execute("COMMIT")


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure; a transaction that DuckDB already ended (a failed COMMIT) needs none."""
    with suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


def execute_with(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, *statements: str) -> None:
    """Run statements that read an Arrow table registered under ``name`` (skipped for an empty table)."""
    if not table.num_rows:
        return
    con.register(name, table)
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.unregister(name)


# Warehouses whose schema a run scope of this process brought up to date while holding their lock.
_MIGRATED: set[str] = set()


@dataclass(frozen=True)
class RunScope:
    """A run's hold on the warehouse: its schema is current, and its run lock held if it is exclusive."""

    path: Path
    run_id: str | None
    exclusive: bool = True


def _scope_key(path: Path | str) -> str:
    return str(lake_of(path).lock.absolute())


def ensure_schema(path: Path | str) -> None:
    """Apply pending migrations, unless a run scope of this process already did.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
    """
    with _HELD_LOCKS_GUARD:
        done = _scope_key(path) in _MIGRATED
    if not done:
        with open_warehouse(path, migrate=True):
            pass


def is_shared(path: Path | str) -> bool:
    """Whether several runs may write the warehouse at once (a PostgreSQL catalog: staged batches)."""
    return not lake_of(path).embedded


@contextmanager
def write_lock(
    path: Path | str, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lake's lock for one write that is not an append (a merge, a feed update, a migration).

    On an embedded lake this does nothing: its one writer holds the run lock for the whole run. On a
    shared lake the lock is taken for the block only (or shared, inside an exclusive run scope).

    Args:
        path: The warehouse.
        timeout: Seconds to wait for another writer.
        on_wait: Called once with a message when we have to wait.

    Yields:
        Nothing; the lock is held inside the block.
    """
    if lake_of(path).embedded:
        yield
        return
    with warehouse_lock(path, timeout, on_wait):
        yield


@contextmanager
def try_write_lock(path: Path | str) -> Iterator[bool]:
    """Take the lake's lock if it is free right now; never wait.

    Args:
        path: The warehouse (a shared one; an embedded lake's run holds its lock already).

    Yields:
        Whether the lock is held inside the block.
    """
    with ExitStack() as stack:
        try:
            stack.enter_context(warehouse_lock(path, 0.0))
        except WarehouseBusyError:
            yield False
            return
        yield True


@contextmanager
def run_scope(
    path: Path | str,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
    run_id: str | None = None,
    hold: bool = False,
    memory_mb: int = 0,
    exclusive: bool | None = None,
) -> Iterator[RunScope]:
    """One run's use of the warehouse: migrate once, hold the run lock if exclusive, optionally stay attached.

    An embedded lake has one writer at a time: its runs are exclusive and take turns. A shared lake
    (PostgreSQL catalog) lets runs write at once; they stage their batches and take the lock only
    for each merge and feed update (:func:`write_lock`), unless ``exclusive`` asks for the whole run
    (maintenance).

    An exclusive scope holds the search index's writer too: batches add to it, leaving the scope commits
    (see :func:`warehouse.searchwrite.deferred_commits`). A shared lake's runs, which merge at once, take the
    writer for each batch instead.

    The CLI opens a scope before it starts a flow, and the flow opens its own: the inner scope shares
    the lock (re-entrant) and skips the migration the outer one did, so each run locks and migrates
    exactly once, wherever it was started from.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
        timeout: Seconds to wait for another run to finish.
        on_wait: Called once with a message when we have to wait.
        run_id: The flow run, when there is one.
        hold: Keep the database open for the whole scope (see :func:`hold_warehouse`).
        memory_mb: DuckDB's memory limit while held (0: DuckDB's default).
        exclusive: Hold the run lock for the whole scope (default: for an embedded lake only).

    Yields:
        The scope: path, run id and whether it is exclusive.
    """
    key = _scope_key(path)
    whole_run = lake_of(path).embedded if exclusive is None else exclusive
    with ExitStack() as stack:
        if whole_run:
            stack.enter_context(warehouse_lock(path, timeout, on_wait))
        with _HELD_LOCKS_GUARD:
            outer = key not in _MIGRATED
        if outer:
            with open_warehouse(path, migrate=True) as con:
                if whole_run:
                    _catch_up_search(con, path)
            with _HELD_LOCKS_GUARD:
                _MIGRATED.add(key)
        # Imported here: reading commands never open a scope, and need no tantivy.
        from warehouse.search import deferred_commits

        try:
            with ExitStack() as index:
                if whole_run:  # runs that merge at once must not keep the writer from each other
                    index.enter_context(deferred_commits(lake_of(path).search_dir))
                if hold:
                    with hold_warehouse(path, memory_mb):
                        yield RunScope(Path(path), run_id, whole_run)
                else:
                    yield RunScope(Path(path), run_id, whole_run)
        finally:
            if outer:
                with _HELD_LOCKS_GUARD:
                    _MIGRATED.discard(key)


def run_scope_for(
    settings: Settings,
    on_wait: Callable[[str], None] | None,
    *,
    run_id: str | None = None,
    hold: bool = True,
    exclusive: bool | None = None,
) -> AbstractContextManager[RunScope]:
    """The run scope every run opens: :func:`run_scope` on the settings' warehouse, lock timeout and memory.

    Args:
        settings: The run's settings.
        on_wait: Called once with a message when we have to wait for another run.
        run_id: The flow run, when there is one.
        hold: Keep the database open for the whole scope.
        exclusive: Hold the run lock for the whole scope (default: for an embedded lake only).
    """
    return run_scope(
        settings.warehouse_path,
        timeout=settings.lock_timeout,
        on_wait=on_wait,
        run_id=run_id,
        hold=hold,
        memory_mb=settings.warehouse_memory_mb,
        exclusive=exclusive,
    )


def _catch_up_search(con: duckdb.DuckDBPyConnection, path: Path | str) -> None:
    """Index what earlier runs stored but did not get into the index (a run killed outright).

    Before the run's held writer opens, which continues from the mark this leaves. A busy or broken
    index must not stop the run: it stays behind, and `wirehouse stats` says by how much.
    """
    from tasks.search import SearchError
    from warehouse.search import catch_up_search_index

    try:
        caught = catch_up_search_index(con, lake_of(path).search_dir)
    except SearchError as exc:
        logger.warning("search index not brought up to date: %s", exc)
        return
    if caught:
        logger.info("search index caught up with %d article changes stored before this run", caught)


def parse_as_of(value: str) -> int | datetime:
    """Read a snapshot given on the command line: a version number or an ISO time (naive means UTC).

    Args:
        value: e.g. ``42`` or ``2026-11-30T12:00:00``.

    Returns:
        The version, or the aware time.

    Raises:
        WarehouseError: Neither.
    """
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WarehouseError(f"not a snapshot version or an ISO time: {value!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_query(
    path: Path | str, sql: str, as_of: int | datetime | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SQL statement read-only against the warehouse.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
        sql: The statement.
        as_of: Read the lake as it was at this snapshot version or time.

    Returns:
        Column names (empty for a statement without a result) and rows.

    Raises:
        QueryError: The statement failed.
        DamagedDataError: It met a damaged data file (named in the message).
    """
    con = connect(path, read_only=True, as_of=as_of)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], [tuple(r) for r in cursor.fetchall()]
    except duckdb.Error as exc:
        raise _query_error(con, exc) from exc
    finally:
        con.close()


def read_queries(
    path: Path | str, sql: str, as_of: int | datetime | None = None
) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
    """Run every SQL statement of a script read-only against the warehouse, in order, on one connection.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
        sql: One statement or several separated by ``;``.
        as_of: Read the lake as it was at this snapshot version or time.

    Returns:
        Each statement's column names (empty for a statement without a result) and rows.

    Raises:
        QueryError: A statement failed (the message says which, when there are several).
        DamagedDataError: It met a damaged data file (named in the message).
    """
    con = connect(path, read_only=True, as_of=as_of)
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryError(first_line(exc)) from exc
        results: list[tuple[list[str], list[tuple[Any, ...]]]] = []
        for number, statement in enumerate(statements, start=1):
            try:
                cursor = con.execute(statement)
                if cursor.description is None:
                    results.append(([], []))
                    continue
                rows = [tuple(r) for r in cursor.fetchall()]
            except duckdb.Error as exc:
                where = f"statement {number} of {len(statements)}: " if len(statements) > 1 else ""
                raise _query_error(con, exc, where) from exc
            results.append(([d[0] for d in cursor.description], rows))
        return results
    finally:
        con.close()


def _query_error(con: duckdb.DuckDBPyConnection, exc: duckdb.Error, where: str = "") -> WarehouseError:
    """The error a failed read reports: the damaged data file it met, by name, else DuckDB's first line."""
    from warehouse.datafiles import DamagedDataError, damage_message, is_damage

    damage = damage_message(con, exc) if is_damage(exc) else None
    return DamagedDataError(damage) if damage else QueryError(where + first_line(exc))
