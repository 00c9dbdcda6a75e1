"""The lake's run lock: an flock on an embedded lake, a renewed lease in the catalog of a shared one."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.errors import first_line
from warehouse.lake import (
    NO_DOWNLOADS,
    Lake,
    WarehouseBusyError,
    WarehouseError,
    lake_of,
    load_extension,
    sql_string,
)

logger = logging.getLogger(__name__)

# Lock file -> (fd, depth). The lock is re-entrant within a process, across its threads: a run's
# batch threads write under the lock its flow took. Its first holder releases it only once every
# nested hold (of any thread) has ended.
_HELD_LOCKS: dict[str, tuple[int, int]] = {}
_HELD_LOCKS_GUARD = threading.Condition()


@contextmanager
def warehouse_lock(
    path: Path | str, timeout: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the warehouse's run lock: one ingest per warehouse at a time, the next one waits its turn.

    For an embedded lake the lock is an advisory ``flock`` on ``<catalog>.lock``; the kernel releases
    it when the process dies, so a killed run never leaves a stale lock. For a PostgreSQL catalog it
    is a leased row in the catalog database (see ``_catalog_lock``), shared by every machine.
    Re-entrant within a process.

    Args:
        path: The warehouse (a path, or a PostgreSQL address).
        timeout: Seconds to wait for another run to finish.
        on_wait: Called once with a message when we have to wait.

    Yields:
        Nothing; the lock is held inside the block.

    Raises:
        WarehouseBusyError: The other run did not finish within ``timeout``.
    """
    lake = lake_of(path)
    lock_path = str(lake.lock)
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
                _HELD_LOCKS_GUARD.notify_all()
        return
    if not lake.embedded:
        with _catalog_lock(lake, timeout, on_wait):
            with _HELD_LOCKS_GUARD:
                _HELD_LOCKS[lock_path] = (-1, 1)
            try:
                yield
            finally:
                _release_held(lock_path)
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
            _release_held(lock_path)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _release_held(lock_path: str) -> None:
    """Forget a held lock once every nested hold has ended (other threads may still be inside)."""
    with _HELD_LOCKS_GUARD:
        _HELD_LOCKS_GUARD.wait_for(lambda: _HELD_LOCKS[lock_path][1] <= 1)
        del _HELD_LOCKS[lock_path]


# A lake with a PostgreSQL catalog may have ingests on several machines. DuckLake 1.5.5 has no unique
# keys, and two sessions merging the same new URL at once would both commit it; its commits also
# conflict whenever another writer touched the same table in between. So its writers append batches
# to a staging table (appends never conflict) and everything else that writes, the merge of staged
# batches above all, happens under the lake's lock: a leased row in the catalog database, renewed
# while held. A killed holder's lease runs out after MERGE_LEASE_SECONDS.
MERGE_LEASE_SECONDS = 60
_RENEW_EVERY = MERGE_LEASE_SECONDS / 4
_PG_EXECUTE = "CALL postgres_execute(?, ?)"
_PG_QUERY = "SELECT * FROM postgres_query(?, ?)"
_LOCKS_DB = "wirehouse_locks"
_ATTACH_LOCKS = "ATTACH {conninfo} AS " + _LOCKS_DB + " (TYPE postgres)"
_PG_LOCK_TABLE = (
    "CREATE TABLE IF NOT EXISTS wirehouse_run_lock "
    "(name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)"
)
# Values inside the PostgreSQL statements are our own: a lease length and a random hex holder id.
_PG_TRY_LOCK = (
    "INSERT INTO wirehouse_run_lock VALUES ('run', {holder}, now() + interval '{lease} seconds') "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE wirehouse_run_lock.expires_at < now() OR wirehouse_run_lock.holder = excluded.holder"
)
_PG_HOLDER = "SELECT holder FROM wirehouse_run_lock WHERE name = 'run'"
_PG_UNLOCK = "DELETE FROM wirehouse_run_lock WHERE name = 'run' AND holder = {holder}"


# One attached connection per PostgreSQL catalog and process for its run lock: a shared lake's writers
# take the lock for each merge and feed update, far too often to load the extension and attach each time.
_LOCK_CONNECTIONS: dict[str, duckdb.DuckDBPyConnection] = {}
_LOCK_CONNECTIONS_GUARD = threading.Lock()


def _lock_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A cursor of this process's connection to the catalog database of ``lake`` (made on first use)."""
    with _LOCK_CONNECTIONS_GUARD:
        con = _LOCK_CONNECTIONS.get(lake.catalog)
        if con is None:
            con = duckdb.connect(":memory:", config=NO_DOWNLOADS)
            try:
                load_extension(con, "postgres")
                con.execute(_ATTACH_LOCKS.format(conninfo=sql_string(lake.catalog.removeprefix("postgres:"))))
                try:
                    con.execute(_PG_EXECUTE, [_LOCKS_DB, _PG_LOCK_TABLE])
                except (
                    duckdb.Error
                ):  # created by another run at the same moment (IF NOT EXISTS is not atomic)
                    time.sleep(0.2)
                    con.execute(_PG_EXECUTE, [_LOCKS_DB, _PG_LOCK_TABLE])
            except BaseException:
                con.close()
                raise
            _LOCK_CONNECTIONS[lake.catalog] = con
        return con.cursor()


@dataclass
class _Lease:
    """This process's hold on a PostgreSQL catalog's lock row."""

    holder: str  # quoted SQL literal of our random holder id
    take: str  # the statement that takes or renews the lease
    lost: threading.Event


_LEASES: dict[str, _Lease] = {}  # lock path -> the lease held


def _forget_lock_connection(lake: Lake) -> None:
    """Drop a lock connection that failed, so the next use attaches afresh."""
    with _LOCK_CONNECTIONS_GUARD:
        con = _LOCK_CONNECTIONS.pop(lake.catalog, None)
    if con is not None:
        with suppress(duckdb.Error):
            con.close()


def _acquire_lease(lake: Lake, timeout: float, on_wait: Callable[[str], None] | None) -> _Lease:
    """Take the lock row (waiting up to ``timeout``); errors of the catalog database become one line."""
    holder = sql_string(uuid.uuid4().hex)
    take = _PG_TRY_LOCK.format(holder=holder, lease=MERGE_LEASE_SECONDS)
    deadline = time.monotonic() + timeout
    told = False
    try:
        con = _lock_connection(lake)
        try:
            while True:
                con.execute(_PG_EXECUTE, [_LOCKS_DB, take])
                row = con.execute(_PG_QUERY, [_LOCKS_DB, _PG_HOLDER]).fetchone()
                if row and sql_string(str(row[0])) == holder:
                    return _Lease(holder, take, threading.Event())
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"warehouse {lake.name} is still in use by another ingest after {timeout:g} s;"
                        " try again later"
                    )
                if not told and on_wait:
                    on_wait(
                        f"another ingest is using {lake.name}; waiting up to {timeout:g} s for it to finish"
                    )
                    told = True
                time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
        finally:
            con.close()
    except duckdb.Error as exc:
        _forget_lock_connection(lake)
        raise WarehouseError(f"cannot take the lock of warehouse {lake.name}: {first_line(exc)}") from exc


@contextmanager
def _catalog_lock(lake: Lake, timeout: float, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """Hold the lock of a lake with a PostgreSQL catalog (a leased row there, renewed meanwhile)."""
    lease = _acquire_lease(lake, timeout, on_wait)
    stop = threading.Event()

    def renew() -> None:
        try:
            renewing = _lock_connection(lake)
            try:
                while not stop.wait(_RENEW_EVERY):
                    renewing.execute(_PG_EXECUTE, [_LOCKS_DB, lease.take])
            finally:
                renewing.close()
        except duckdb.Error as exc:  # the lease may run out: merges check it before they commit
            logger.warning("cannot renew the lock of warehouse %s: %s", lake.name, exc)
            lease.lost.set()
            _forget_lock_connection(lake)

    renewer = threading.Thread(target=renew, name="wirehouse-lease", daemon=True)
    renewer.start()
    _LEASES[str(lake.lock)] = lease
    try:
        yield
    finally:
        _LEASES.pop(str(lake.lock), None)
        stop.set()
        renewer.join()
        try:
            con = _lock_connection(lake)
            try:
                con.execute(_PG_EXECUTE, [_LOCKS_DB, _PG_UNLOCK.format(holder=lease.holder)])
            finally:
                con.close()
        except duckdb.Error:  # the lease runs out by itself
            _forget_lock_connection(lake)


def confirm_lock(path: Path | str) -> None:
    """Make sure this process still holds a shared lake's lock, and extend it: call before a merge commits.

    A process that could not renew its lease (a network break, a stalled machine) may have lost the
    lock to another writer; committing then could store a URL twice. An embedded lake's lock is a
    kernel lock that cannot be lost.

    Args:
        path: The warehouse.

    Raises:
        WarehouseBusyError: The lock is not ours (any more).
    """
    lake = lake_of(path)
    if lake.embedded:
        return
    lease = _LEASES.get(str(lake.lock))
    if lease is None or lease.lost.is_set():
        raise WarehouseBusyError(f"lost the lock of warehouse {lake.name}; the merge was not committed")
    try:
        con = _lock_connection(lake)
        try:
            con.execute(_PG_EXECUTE, [_LOCKS_DB, lease.take])
            row = con.execute(_PG_QUERY, [_LOCKS_DB, _PG_HOLDER]).fetchone()
        finally:
            con.close()
    except duckdb.Error as exc:
        _forget_lock_connection(lake)
        raise WarehouseBusyError(f"cannot confirm the lock of warehouse {lake.name}: {exc}") from exc
    if not row or sql_string(str(row[0])) != lease.holder:
        lease.lost.set()
        raise WarehouseBusyError(f"lost the lock of warehouse {lake.name}; the merge was not committed")
