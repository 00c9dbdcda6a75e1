"""The lake's Parquet files as they are on disk: orphans no commit references, and damaged live files.

A transaction writes its Parquet files before it commits; one that is killed first leaves them in the
data folder, referenced by nothing (an orphan). DuckLake's ``ducklake_delete_orphaned_files`` removes
them, but needs a writable catalog, so counting them (``wirehouse stats``, read-only) lists the folder
here and subtracts what the catalog knows. Files are matched by name: DuckLake names every file it
writes ``ducklake-<uuid>.parquet``, so a data path spelled differently (a doubled slash) can never make
a live file look orphaned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import duckdb

from core.errors import first_line
from warehouse.lake import WarehouseError

# `news` is warehouse.connection.LAKE, the name every connection attaches the lake under.
_CATALOG_DATA_PATH = "SELECT value FROM __ducklake_metadata_news.ducklake_metadata WHERE key = 'data_path'"
# Every file the catalog knows, live or not: files of snapshots time travel still reaches, and files
# waiting for their deletion (as DuckLake's own orphan search counts them).
_KNOWN_PATHS = """
SELECT path FROM __ducklake_metadata_news.ducklake_data_file
UNION ALL SELECT path FROM __ducklake_metadata_news.ducklake_delete_file
UNION ALL SELECT path FROM __ducklake_metadata_news.ducklake_files_scheduled_for_deletion
"""
# read_blob reads no content unless it is selected: this lists names, sizes and times only.
_ON_DISK = "SELECT filename, size, last_modified FROM read_blob(?)"
_ORPHAN_CANDIDATES = "CALL ducklake_delete_orphaned_files('news', dry_run => true, older_than => ?)"
_DELETE_ORPHANS = "CALL ducklake_delete_orphaned_files('news', older_than => ?)"
_TABLES = "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'news' ORDER BY 1, 2"
_LIVE_FILES = """
SELECT data_file, data_file_size_bytes, delete_file, delete_file_size_bytes
FROM ducklake_list_files('news', ?, schema => ?)
"""
_FOOTER = "SELECT num_rows FROM parquet_file_metadata(?)"
# Hashing every column makes DuckDB decompress and decode every page (count(*) alone reads none).
_DECODE = "SELECT bit_xor(hash(COLUMNS(*))) FROM read_parquet(?)"
_QUOTED_FILE = re.compile(r"""file ['"]([^'"]+\.parquet)['"]|File ['"]([^'"]+\.parquet)['"]""")


class DamagedDataError(WarehouseError):
    """Live data files of the lake cannot be read; the message names them (restore them from a backup)."""


@dataclass(frozen=True)
class LakeFile:
    """A Parquet file in the data folder."""

    path: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class DamagedFile:
    """A live data file that cannot be read."""

    path: str
    table: str
    reason: str  # DuckDB's first line, or how its size differs from the catalog's


def _file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def data_path(con: duckdb.DuckDBPyConnection) -> str:
    """The lake's data folder (or ``s3://`` prefix), as its catalog records it."""
    row = con.execute(_CATALOG_DATA_PATH).fetchone()
    if not row or not row[0]:
        raise WarehouseError("the lake's catalog records no data path")
    text = str(row[0])
    return text if text.endswith("/") else text + "/"


def _known_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {_file_name(str(path)) for (path,) in con.execute(_KNOWN_PATHS).fetchall() if path}


def find_orphans(con: duckdb.DuckDBPyConnection, older_than: datetime | None = None) -> list[LakeFile]:
    """List the Parquet files in the data folder that no commit references.

    Args:
        con: A connection (read-only is fine).
        older_than: Only files last written before this time (a running transaction's files are new).

    Returns:
        The orphans, by path.
    """
    known = _known_names(con)
    rows = con.execute(_ON_DISK, [data_path(con) + "**/*.parquet"]).fetchall()
    return sorted(
        (
            LakeFile(str(name), int(size), modified)
            for name, size, modified in rows
            if _file_name(str(name)) not in known and (older_than is None or modified < older_than)
        ),
        key=lambda f: f.path,
    )


def remove_orphans(con: duckdb.DuckDBPyConnection, older_than: datetime) -> int:
    """Delete the orphans last written before ``older_than`` (DuckLake's ``ducklake_delete_orphaned_files``).

    Args:
        con: Read-write connection, under the run lock.
        older_than: Files written since may belong to a transaction still running.

    Returns:
        Files deleted.

    Raises:
        WarehouseError: DuckLake took a file the catalog knows for an orphan; nothing was deleted.
    """
    candidates = [str(path) for (path,) in con.execute(_ORPHAN_CANDIDATES, [older_than]).fetchall()]
    if not candidates:
        return 0
    live = _known_names(con) & {_file_name(path) for path in candidates}
    if live:
        # DuckLake compares full paths; a data path written differently would make it delete live files.
        raise WarehouseError(
            f"DuckLake takes {len(live)} files the catalog references for orphans"
            f" (e.g. {sorted(live)[0]}); no orphan was deleted"
        )
    return len(con.execute(_DELETE_ORPHANS, [older_than]).fetchall())


def _live_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int | None]]:
    """Every live data and delete file: (path, table, size the catalog recorded)."""
    files: list[tuple[str, str, int | None]] = []
    for schema, table in con.execute(_TABLES).fetchall():
        for data_file, data_size, delete_file, delete_size in con.execute(
            _LIVE_FILES, [table, schema]
        ).fetchall():
            for path, size in ((data_file, data_size), (delete_file, delete_size)):
                if path:
                    files.append((str(path), str(table), int(size) if size is not None else None))
    return sorted(set(files))


def live_file_count(con: duckdb.DuckDBPyConnection) -> int:
    """Count the live data and delete files (those the current snapshot reads)."""
    return len(_live_files(con))


def damaged_files(con: duckdb.DuckDBPyConnection, *, decode: bool = False) -> list[DamagedFile]:
    """Check every live data file: there, of the size the catalog recorded, with a readable footer.

    Args:
        con: A connection (read-only is fine).
        decode: Also decode every page of every file (reads the whole lake; finds damage inside a file
            whose footer is intact).

    Returns:
        The files that cannot be read, by path.
    """
    files = _live_files(con)
    if not files:
        return []
    listed = con.execute(_ON_DISK, [data_path(con) + "**/*.parquet"]).fetchall()
    sizes = {_file_name(str(name)): int(size) for name, size, _ in listed}
    damaged = []
    for path, table, size in files:
        on_disk = sizes.get(_file_name(path))
        if on_disk is None:
            damaged.append(DamagedFile(path, table, "the file is missing"))
        elif size is not None and on_disk != size:
            damaged.append(DamagedFile(path, table, f"{on_disk} bytes, the catalog recorded {size}"))
        else:
            try:
                con.execute(_FOOTER, [path]).fetchall()
                if decode:
                    con.execute(_DECODE, [path]).fetchall()
            except duckdb.Error as exc:
                damaged.append(DamagedFile(path, table, first_line(exc)))
    return damaged


def is_damage(exc: duckdb.Error) -> bool:
    """Whether a failed statement met a damaged or missing data file rather than a mistake in its SQL."""
    text = str(exc)
    return (
        "Parquet" in text
        or "magic bytes" in text
        or "footer" in text
        or "TProtocolException" in text
        or "decompression" in text
        or isinstance(exc, duckdb.IOException)
    ) and not isinstance(exc, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException)


def _without_path(reason: str, path: str) -> str:
    """DuckDB's message without the path it quotes (the message names the file once, first)."""
    for quoted in (f'"{path}"', f"'{path}'"):
        reason = reason.replace(" " + quoted, "").replace(quoted, "")
    return reason


def damage_message(con: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> str | None:
    """Name the damaged data file a failed statement met, in one line; None when the lake has none.

    DuckDB names the file for a bad footer, not for a bad page inside it: then every live file is
    checked, decoding them if the footers are all fine.

    Args:
        con: A connection to the lake.
        exc: The error of the statement.

    Returns:
        The message, or None.
    """
    match = _QUOTED_FILE.search(str(exc))
    try:
        if match:
            path = match.group(1) or match.group(2)
            tables = {file: table for file, table, _ in _live_files(con)}
            found = [DamagedFile(path, tables.get(path, "?"), first_line(exc))]
        else:
            found = damaged_files(con) or damaged_files(con, decode=True)
    except duckdb.Error:
        return None
    if not found:
        return None
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (
        f"damaged data file {first.path} of table {first.table}{more}: {_without_path(first.reason, first.path)}"
        " (restore it from a backup)"
    )
