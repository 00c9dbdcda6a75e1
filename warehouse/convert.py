"""Upgrade: convert the single-file DuckDB warehouse of older versions into the lake, row for row.

The old file is brought up to its last schema by its own migrations, copied table by table into a new
lake, and the copy is checked: every table has as many rows, and the same content hash, as before.
The lake's catalog is written under a temporary name and moved into place only when the check passed,
so an interrupted conversion leaves nothing that looks like a lake. The old file is kept.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

import warehouse
from core.errors import first_line
from warehouse.lake import LAKE, Lake, WarehouseError, attach, check_local, sql_string
from warehouse.locks import warehouse_lock

logger = logging.getLogger(__name__)

# The tables that hold data, in the order they are copied (feed_fetch_log's fetch_id came from a
# sequence, which DuckLake has not; it was never part of the public views).
TABLES = (
    "feeds",
    "feed_fetch_log",
    "article_store",
    "raw_pages",
    "quotes",
    "story_keys",
    "archive_files",
    "archive_problems",
)
_OLD = "legacy"
_COLUMNS = """
SELECT column_name FROM duckdb_columns()
WHERE database_name = ? AND schema_name = 'main' AND table_name = ?
ORDER BY column_index
"""
# The only interpolated parts are identifiers: column and table names read from the catalog (quoted)
# and the two database names above. There are no values in these statements.
_COPY = "INSERT INTO {lake}.main.{table} ({columns}) SELECT {columns} FROM {old}.main.{table}"
_FINGERPRINT = "SELECT count(*), coalesce(sum(hash({columns})::HUGEINT), 0) FROM {database}.main.{table}"
_ATTACH_OLD = "ATTACH {path} AS {old} (READ_ONLY)"
_IS_WAREHOUSE = """
SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'schema_migrations'
"""
# Seconds a conversion waits for a run that holds the lock (it converts first, then runs).
_LOCK_WAIT = 600.0


class ConversionError(WarehouseError):
    """The old warehouse could not be converted; nothing of the lake was kept."""


@dataclass(frozen=True)
class TableCheck:
    """One table before and after the conversion."""

    table: str
    rows_before: int
    rows_after: int
    hash_before: int
    hash_after: int

    @property
    def equal(self) -> bool:
        """Whether the lake holds exactly what the old file held."""
        return (self.rows_before, self.hash_before) == (self.rows_after, self.hash_after)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(_COLUMNS, [database, table]).fetchall()]


def _fingerprint(
    con: duckdb.DuckDBPyConnection, database: str, table: str, columns: list[str]
) -> tuple[int, int]:
    """Count a table's rows and add up their hashes (order-independent; duplicates count twice)."""
    listed = ", ".join(_quoted(c) for c in columns)
    row = con.execute(_FINGERPRINT.format(columns=listed, database=database, table=_quoted(table))).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """Open an embedded lake for writing without converting anything (this module is what converts)."""
    check_local(lake, read_only=False)
    return attach(lake)


def convert_legacy(lake: Lake) -> list[TableCheck]:
    """Convert ``lake.legacy`` (a single-file DuckDB warehouse) into the lake, and check the copy.

    Args:
        lake: An embedded lake whose catalog does not exist yet and whose old file does.

    Returns:
        One check per table, all equal.

    Raises:
        ConversionError: The old file cannot be read, or the copy differs (the lake is removed).
    """
    assert lake.sqlite is not None and lake.legacy is not None
    with warehouse_lock(lake.name, _LOCK_WAIT):
        if lake.sqlite.is_file():  # another process converted it while we waited
            return []
        try:
            old = duckdb.connect(str(lake.legacy), config={"autoinstall_known_extensions": False})
        except duckdb.Error as exc:
            raise ConversionError(f"cannot open warehouse {lake.legacy}: {first_line(exc)}") from exc
        try:
            row = old.execute(_IS_WAREHOUSE).fetchone()
            if not row or not row[0]:
                raise ConversionError(
                    f"{lake.legacy} is not a wirehouse warehouse (it has no schema_migrations)"
                )
            warehouse.migrate(old, warehouse.LEGACY_MIGRATIONS_DIR)
        finally:
            old.close()
        staging = lake.sqlite.with_name(lake.sqlite.name + ".converting")
        for leftover in (staging, *(staging.with_name(staging.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        data = Path(lake.data_path or "")
        data_existed = data.exists()
        checks: list[TableCheck] = []
        try:
            con = _connect(
                replace(lake, catalog="sqlite:" + str(staging.absolute()), sqlite=staging, legacy=None)
            )
            try:
                warehouse.migrate(con)
                con.execute(_ATTACH_OLD.format(path=sql_string(str(lake.legacy)), old=_OLD))
                con.execute("BEGIN TRANSACTION")
                for table in TABLES:
                    wanted = _columns(con, LAKE, table)
                    present = set(_columns(con, _OLD, table))
                    columns = [c for c in wanted if c in present]
                    listed = ", ".join(_quoted(c) for c in columns)
                    con.execute(_COPY.format(lake=LAKE, old=_OLD, table=_quoted(table), columns=listed))
                con.execute("COMMIT")
                for table in TABLES:
                    columns = [c for c in _columns(con, LAKE, table) if c in set(_columns(con, _OLD, table))]
                    before = _fingerprint(con, _OLD, table, columns)
                    after = _fingerprint(con, LAKE, table, columns)
                    checks.append(TableCheck(table, before[0], after[0], before[1], after[1]))
            finally:
                con.close()
            wrong = [c.table for c in checks if not c.equal]
            if wrong:
                raise ConversionError(f"converting {lake.legacy} changed the tables {', '.join(wrong)}")
            for suffix in ("-wal", "-shm"):  # SQLite removes them on close; if not, they move along
                if staging.with_name(staging.name + suffix).exists():
                    staging.with_name(staging.name + suffix).replace(
                        lake.sqlite.with_name(lake.sqlite.name + suffix)
                    )
            staging.replace(lake.sqlite)
        except BaseException:
            for leftover in (staging, *(staging.with_name(staging.name + s) for s in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
            if not data_existed:
                shutil.rmtree(data, ignore_errors=True)
            raise
        # The old file's FTS index does not carry over: index the converted articles now, so that
        # search finds them before any new article arrives.
        # Imported here: every connection imports this module, and only a conversion needs tantivy.
        from warehouse.search import build_search_index

        con = _connect(lake)
        try:
            build_search_index(con, lake.search_dir)
        finally:
            con.close()
    articles = next(c.rows_after for c in checks if c.table == "article_store")
    logger.warning(
        "converted the warehouse %s into the lake %s (%d articles, every table checked); the old file is kept",
        lake.legacy,
        lake.sqlite,
        articles,
    )
    return checks
