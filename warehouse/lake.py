"""The lake: where a warehouse lives and how a connection attaches it (its locks: warehouse.locks).

The warehouse is a DuckLake: a catalog database and a folder of Parquet files, attached as ``news``.
The catalog is SQLite in WAL mode by default (a file beside the data folder), or PostgreSQL when the
warehouse is a ``postgres:`` / ``postgresql://`` address. Extensions come from their PyPI wheels, loaded
by file path; DuckDB never downloads one. :mod:`warehouse.connection` opens connections on top of this.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
import weakref
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import duckdb

from core.errors import PermanentError, TransientError, first_line

logger = logging.getLogger(__name__)

LAKE = "news"  # the name the lake is attached under, in every connection and in the README's ATTACH lines
NO_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
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


class WarehouseError(PermanentError):
    """The warehouse cannot be opened or used; the message is meant for the user."""


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


# A libpq keyword/value conninfo's password: a bare word, or a quoted value with backslash escapes.
_CONNINFO_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('(?:\\.|[^'\\])*'|\S+)", re.IGNORECASE)
_CONNINFO_UNESCAPE = re.compile(r"\\(.)")


def without_password(lake: Lake) -> tuple[Lake, str | None]:
    """Take the password out of a PostgreSQL catalog's address, for lines that are shown or passed on.

    libpq reads a password left out of the address from ``PGPASSWORD`` or the passfile (``~/.pgpass``),
    so the same ATTACH works without it.

    Args:
        lake: Any lake (an embedded one has no password).

    Returns:
        The lake whose catalog names no password, and the password it named (None: none).
    """
    if lake.embedded:
        return lake, None
    conninfo = lake.catalog.removeprefix("postgres:")
    if "://" in conninfo:
        parts = urlsplit(conninfo)
        password = unquote(parts.password) if parts.password is not None else None
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = userinfo.split(":", 1)[0] + "@" + host
        query = parse_qsl(parts.query, keep_blank_values=True)
        password = next((v for k, v in query if k == "password"), password)
        kept = urlencode([(k, v) for k, v in query if k != "password"])
        stripped = urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment))
    else:
        found = _CONNINFO_PASSWORD.search(conninfo)
        if found is None:
            return lake, None
        value = found.group(1)
        password = _CONNINFO_UNESCAPE.sub(r"\1", value[1:-1]) if value.startswith("'") else value
        stripped = " ".join((conninfo[: found.start()] + conninfo[found.end() :]).split())
    if password is None:
        return lake, None
    return replace(lake, catalog="postgres:" + stripped), password


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
    con = duckdb.connect(":memory:", config=NO_DOWNLOADS)
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
