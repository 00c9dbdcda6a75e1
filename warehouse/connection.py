"""Connection, run lock and run scope: how every part of wirehouse opens the warehouse."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

import warehouse
from wirehouse.errors import PermanentError, TransientError

_CONNECT_LOCK = threading.Lock()


_NO_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


# Seconds a connection waits while another process has the DuckDB file open (between its tasks).
CONNECT_WAIT = 60.0


_HELD_LOCKS: dict[str, tuple[int, int]] = {}  # lock file -> (fd, depth): the run lock is re-entrant


_HELD_LOCKS_GUARD = threading.Lock()


class WarehouseError(PermanentError):
    """The warehouse cannot be opened or used; the message is meant for the user."""


# Any error DuckDB raises, for callers outside warehouse/ that must not import duckdb themselves.
DatabaseError = duckdb.Error


class QueryError(WarehouseError):
    """A user's SQL statement failed; the message is DuckDB's first line."""


class WarehouseMemoryError(WarehouseError):
    """A statement needed more memory than the warehouse may use; its transaction rolled back."""


class WarehouseBusyError(TransientError, WarehouseError):
    """Another process kept the warehouse for longer than we were willing to wait."""


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
    """A run's hold on the warehouse: its run lock is held and its schema is current."""

    path: Path
    run_id: str | None


def _scope_key(path: Path | str) -> str:
    return str(Path(path).absolute())


def ensure_schema(path: Path | str) -> None:
    """Apply pending migrations, unless a run scope of this process already did.

    Args:
        path: The DuckDB file.
    """
    with _HELD_LOCKS_GUARD:
        done = _scope_key(path) in _MIGRATED
    if not done:
        with open_warehouse(path, migrate=True):
            pass


@contextmanager
def run_scope(
    path: Path | str,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
    run_id: str | None = None,
    hold: bool = False,
    memory_mb: int = 0,
) -> Iterator[RunScope]:
    """One run's use of the warehouse: take the run lock, migrate once, optionally hold the database open.

    The CLI opens a scope before it starts a flow, and the flow opens its own: the inner scope shares
    the lock (re-entrant) and skips the migration the outer one did, so each run locks and migrates
    exactly once, wherever it was started from.

    Args:
        path: The DuckDB file.
        timeout: Seconds to wait for another run to finish.
        on_wait: Called once with a message when we have to wait.
        run_id: The flow run, when there is one.
        hold: Keep the database open for the whole scope (see :func:`hold_warehouse`).
        memory_mb: DuckDB's memory limit while held (0: DuckDB's default).

    Yields:
        The scope: path and run id.
    """
    key = _scope_key(path)
    with warehouse_lock(path, timeout, on_wait):
        with _HELD_LOCKS_GUARD:
            outer = key not in _MIGRATED
        if outer:
            with open_warehouse(path, migrate=True):
                pass
            with _HELD_LOCKS_GUARD:
                _MIGRATED.add(key)
        try:
            if hold:
                with hold_warehouse(path, memory_mb):
                    yield RunScope(Path(path), run_id)
            else:
                yield RunScope(Path(path), run_id)
        finally:
            if outer:
                with _HELD_LOCKS_GUARD:
                    _MIGRATED.discard(key)


def read_query(path: Path | str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SQL statement read-only against the warehouse.

    Args:
        path: The DuckDB file.
        sql: The statement.

    Returns:
        Column names (empty for a statement without a result) and rows.

    Raises:
        QueryError: The statement failed.
    """
    con = connect(path, read_only=True)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], [tuple(r) for r in cursor.fetchall()]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueryError(first) from exc
    finally:
        con.close()
