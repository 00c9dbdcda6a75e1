"""Connection, catalog, run lock and run scope: how every part of wirehouse opens the warehouse.

The warehouse is a DuckLake: a catalog database and a folder of Parquet files. Every connection is an
in-memory DuckDB with the lake attached as ``news`` (and made the default catalog), so any number of
processes read it while one ingest writes. The catalog is SQLite in WAL mode by default (a file beside
the data folder), or PostgreSQL when the warehouse is a ``postgres:`` / ``postgresql://`` address.
Extensions come from their PyPI wheels, loaded by file path; DuckDB never downloads one.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

import warehouse
from core.errors import PermanentError, TransientError, first_line

logger = logging.getLogger(__name__)

LAKE = "news"  # the name the lake is attached under, in every connection and in the README's ATTACH lines
_NO_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
# Extension -> (module of its PyPI wheel, file name inside it).
_EXTENSIONS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake"),
    "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    "httpfs": ("duckdb_extension_httpfs", "httpfs"),
}
_REMOTE_DATA = ("s3://", "s3a://", "gs://", "gcs://", "r2://", "http://", "https://")
# Milliseconds a SQLite catalog waits for a lock another process holds (a writer's commit, briefly).
_BUSY_TIMEOUT_MS = 10_000
# Rows a commit keeps in the catalog instead of writing a Parquet file: small batches and the feed
# health updates would otherwise leave a file each.
_INLINING_ROW_LIMIT = 10
_POSTGRES_PREFIXES = ("postgres:", "postgresql://", "postgres://")
# Lock file -> (fd, depth). The lock is re-entrant within a process, across its threads: a run's
# batch threads write under the lock its flow took. Its first holder releases it only once every
# nested hold (of any thread) has ended.
_HELD_LOCKS: dict[str, tuple[int, int]] = {}
_HELD_LOCKS_GUARD = threading.Condition()


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


@dataclass(frozen=True)
class Lake:
    """Where a warehouse lives: its catalog, its data folder and its search index."""

    name: str  # as the user gave it, for messages
    catalog: str  # what follows ``ducklake:`` in ATTACH: ``sqlite:/…/news.sqlite`` or ``postgres:…``
    data_path: str | None  # None: the catalog remembers it (a PostgreSQL catalog created elsewhere)
    search_dir: Path
    lock: Path  # the run lock file (on this machine)
    sqlite: Path | None = None  # the embedded catalog file
    legacy: Path | None = None  # a single-file DuckDB warehouse of an older wirehouse, converted on first use

    @property
    def embedded(self) -> bool:
        """Whether the catalog is a local SQLite file."""
        return self.sqlite is not None

    def exists(self) -> bool:
        """Whether the lake (or an older warehouse to convert) is there; a server catalog always is."""
        if self.sqlite is None:
            return True
        return self.sqlite.is_file() or bool(self.legacy and self.legacy.is_file())


def is_server_address(warehouse: Path | str) -> bool:
    """Tell whether a warehouse setting names a PostgreSQL catalog rather than a local path."""
    return str(warehouse).startswith(_POSTGRES_PREFIXES)


def lake_of(warehouse: Path | str | Lake, data_path: str | None = None) -> Lake:
    """Resolve a warehouse setting: a path means an embedded lake, a PostgreSQL address the server catalog.

    A path ``x.sqlite`` is the SQLite catalog, with its data in ``x.data/`` and its search index in
    ``x.search/`` beside it. A path ``x.duckdb`` (what older versions wrote) means the lake ``x.sqlite``,
    and an old ``x.duckdb`` beside ``x.sqlite`` is converted into the lake on first use.

    Args:
        warehouse: A path, or ``postgres:dbname=… host=…`` / ``postgresql://…``.
        data_path: For a PostgreSQL catalog: the shared data folder (or ``s3://…``); needed when the
            catalog is created, remembered by it afterwards (default: the ``data_path`` setting,
            ``WIREHOUSE_DATA_PATH``).

    Returns:
        The lake.
    """
    if isinstance(warehouse, Lake):
        return warehouse
    text = str(warehouse)
    if is_server_address(text):
        conninfo = text if "://" in text else text.removeprefix("postgres:")
        if data_path is None:
            from tasks.settings import load_settings

            data_path = load_settings().data_path
        data = data_path or None
        local = Path(data) if data and "://" not in data else Path("warehouse") / "server"
        return Lake(
            name=text,
            catalog="postgres:" + conninfo,
            data_path=data,
            search_dir=local.with_name(local.name.rstrip("/") + ".search"),
            lock=local.with_name(local.name + ".lock"),
        )
    path = Path(text)
    catalog = path.with_suffix(".sqlite") if path.suffix == ".duckdb" else path
    legacy = catalog.with_suffix(".duckdb") if catalog.suffix == ".sqlite" else None
    stem = catalog.name.removesuffix(".sqlite")
    return Lake(
        name=str(catalog),
        catalog="sqlite:" + str(catalog.absolute()),
        data_path=str(catalog.with_name(stem + ".data").absolute()) + os.sep,
        search_dir=catalog.with_name(stem + ".search"),
        lock=catalog.with_name(catalog.name + ".lock"),
        sqlite=catalog,
        legacy=legacy,
    )


def sql_string(value: str) -> str:
    """Quote a string as an SQL literal, for the few statements that take no parameters (LOAD, ATTACH)."""
    if "\x00" in value:
        raise ValueError("NUL character in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


def extension_path(name: str) -> Path:
    """Find a DuckDB extension file in its PyPI wheel (``duckdb-extension-<name>==<duckdb version>``).

    Args:
        name: ``ducklake``, ``sqlite``, ``postgres`` or ``httpfs``.

    Returns:
        The ``.duckdb_extension`` file.

    Raises:
        WarehouseError: The wheel is missing or has no build for this DuckDB version.
    """
    module_name, file_name = _EXTENSIONS[name]
    package = module_name.replace("_", "-")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WarehouseError(f"the warehouse needs the {package} package") from exc
    path = (
        Path(str(module.__file__)).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{file_name}.duckdb_extension"
    )
    if not path.is_file():
        raise WarehouseError(f"{package} has no extension for DuckDB {duckdb.__version__}")
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD an extension from its wheel (LOAD takes no parameters; the path is our own, quoted)."""
    con.execute("LOAD " + sql_string(str(extension_path(name))))


def _attach_sql(lake: Lake, *, read_only: bool, as_of: int | datetime | None) -> tuple[str, list[Any]]:
    options = [f"DATA_INLINING_ROW_LIMIT {_INLINING_ROW_LIMIT}"]
    if lake.embedded:
        options += ["META_JOURNAL_MODE 'WAL'", f"META_BUSY_TIMEOUT {_BUSY_TIMEOUT_MS}"]
    if lake.data_path:
        options.append("DATA_PATH " + sql_string(lake.data_path))
    if read_only:
        options.append("READ_ONLY")
    if isinstance(as_of, datetime):
        options.append("SNAPSHOT_TIME " + sql_string(as_of.isoformat()))
    elif as_of is not None:
        options.append(f"SNAPSHOT_VERSION {int(as_of)}")
    return f"ATTACH {sql_string('ducklake:' + lake.catalog)} AS {LAKE} ({', '.join(options)})", []


def _check_local(lake: Lake, read_only: bool) -> None:
    """Turn the ways a local warehouse path can be wrong into one-line errors."""
    assert lake.sqlite is not None
    path = lake.sqlite
    if read_only and not lake.exists():
        raise WarehouseError(f"warehouse {lake.name} does not exist (run `wirehouse ingest` first)")
    if path.exists() and not path.is_file():
        raise WarehouseError(f"warehouse path {path} is not a file")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create folder for warehouse {path}: {exc.strerror}") from exc


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
        _check_local(lake, read_only)
        if lake.legacy is not None and lake.legacy.is_file() and not lake.sqlite.is_file():
            from warehouse.convert import convert_legacy

            convert_legacy(lake)
    attempts = 1 if lake.embedded else _SERVER_ATTACH_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return _attach(lake, read_only=read_only, as_of=as_of)
        except WarehouseError:
            # Two processes creating a new PostgreSQL catalog at once: one of them wins the race
            # to create DuckLake's tables; the other attaches the finished catalog a moment later.
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


_SERVER_ATTACH_ATTEMPTS = 5


def _attach(lake: Lake, *, read_only: bool, as_of: int | datetime | None) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB, load the extensions from their wheels and attach the lake."""
    con = duckdb.connect(":memory:", config=_NO_DOWNLOADS)
    try:
        load_extension(con, "ducklake")
        load_extension(con, "sqlite" if lake.embedded else "postgres")
        if lake.data_path and lake.data_path.startswith(_REMOTE_DATA):
            load_extension(con, "httpfs")
        statement, params = _attach_sql(lake, read_only=read_only, as_of=as_of)
        con.execute(statement, params)
        con.execute(_USE_LAKE)
    except duckdb.Error as exc:
        con.close()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WarehouseError(f"cannot open warehouse {lake.name}: {first}") from exc
    except BaseException:
        con.close()
        raise
    return con


_USE_LAKE = f"USE {LAKE}"
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
            con = duckdb.connect(":memory:", config=_NO_DOWNLOADS)
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
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WarehouseError(f"cannot take the lock of warehouse {lake.name}: {first}") from exc


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
    (see :func:`warehouse.search.deferred_commits`). A shared lake's runs, which merge at once, take the
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
