"""The lake: where a warehouse lives, how a connection attaches it, and its run lock.

The warehouse is a DuckLake: a catalog database and a folder of Parquet files, attached as ``news``.
The catalog is SQLite in WAL mode by default (a file beside the data folder), or PostgreSQL when the
warehouse is a ``postgres:`` / ``postgresql://`` address. Extensions come from their PyPI wheels, loaded
by file path; DuckDB never downloads one. :mod:`warehouse.connection` opens connections on top of this.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

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
    keys: Path  # the key index (warehouse.keys), on this machine
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
            from core.settings import load_settings

            data_path = load_settings().data_path
        data = data_path or None
        local = Path(data) if data and "://" not in data else Path("warehouse") / "server"
        return Lake(
            name=text,
            catalog="postgres:" + conninfo,
            data_path=data,
            search_dir=local.with_name(local.name.rstrip("/") + ".search"),
            lock=local.with_name(local.name + ".lock"),
            keys=local.with_name(local.name.rstrip("/") + ".keys"),
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
        keys=catalog.with_name(stem + ".keys"),
        sqlite=catalog,
        legacy=legacy,
    )


# The lake each open connection (and cursor) has attached, so that what is derived from the lake (the
# key index) is found without asking DuckDB; weak, so a closed connection leaves nothing behind.
_LAKES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Lake] = weakref.WeakKeyDictionary()


def remember_lake(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Record which lake ``con`` has attached (see :func:`attached_lake`)."""
    _LAKES[con] = lake


def attached_lake(con: duckdb.DuckDBPyConnection) -> Lake | None:
    """The lake a connection opened by wirehouse has attached; None for one opened otherwise."""
    return _LAKES.get(con)


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


def lake_extensions(lake: Lake) -> list[str]:
    """The extensions a connection to the lake loads, in order (names as :func:`extension_path` takes them)."""
    names = ["ducklake", "sqlite" if lake.embedded else "postgres"]
    if lake.data_path and lake.data_path.startswith(_REMOTE_DATA):
        names.append("httpfs")
    return names


def attach_statement(lake: Lake, *, read_only: bool) -> str:
    """The ATTACH statement of every connection, for a DuckDB that wirehouse does not open itself."""
    statement, _params = _attach_sql(lake, read_only=read_only, as_of=None)
    return statement


def check_local(lake: Lake, read_only: bool) -> None:
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


def attach(
    lake: Lake, *, read_only: bool = False, as_of: int | datetime | None = None
) -> duckdb.DuckDBPyConnection:
    """Attach the lake as it is, converting nothing (:func:`warehouse.connection.connect` converts first).

    Args:
        lake: The lake.
        read_only: Attach for reading only.
        as_of: Read the lake as it was at this snapshot version or time.

    Returns:
        An open connection with the lake attached as ``news`` and used by default.

    Raises:
        WarehouseError: Missing extension, unreachable catalog, unknown snapshot.
    """
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
        for name in lake_extensions(lake):
            load_extension(con, name)
        statement, params = _attach_sql(lake, read_only=read_only, as_of=as_of)
        con.execute(statement, params)
        con.execute(_USE_LAKE)
        remember_lake(con, lake)
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot open warehouse {lake.name}: {first_line(exc)}") from exc
    except BaseException:
        con.close()
        raise
    return con


_USE_LAKE = f"USE {LAKE}"


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
