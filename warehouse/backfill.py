"""Archive backfills in the warehouse: which archive files are loaded, and the records that gave no page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from core.records import ArchiveLoad
from tasks.warc import ArchiveProblem
from warehouse.connection import execute_with, transaction

# A file is loaded for a backfill when an earlier load with the same filters, or with none, finished.
_LOADED = "SELECT DISTINCT source_file FROM archive_files WHERE filters = '' OR filters = ?"

# A file's problems are replaced as a whole: a load killed half-way and run again counts each once.
_DELETE_PROBLEMS = "DELETE FROM archive_problems WHERE source_file = ?"
_INSERT_PROBLEMS = "INSERT INTO archive_problems BY NAME (SELECT * FROM problem_batch)"
_INSERT_FILE = """
INSERT INTO archive_files
    (source_file, filters, records, stored, skipped, failed, started_at, loaded_at, run_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_TS = pa.timestamp("us", tz="UTC")
PROBLEM_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_offset", pa.int64()),
        ("source_record", pa.string()),
        ("url", pa.string()),
        ("problem", pa.string()),
        ("message", pa.string()),
        ("http_status", pa.int32()),
        ("occurred_at", _TS),
        ("run_id", pa.string()),
    ]
)


def loaded_files(con: duckdb.DuckDBPyConnection, filters: str) -> set[str]:
    """List the archive files a backfill with these filters has nothing left to take from.

    Args:
        con: A connection.
        filters: The backfill's filters, as :func:`pipeline.backfill.filter_key` writes them.

    Returns:
        Source names (as given to the backfill that loaded them).
    """
    return {row[0] for row in con.execute(_LOADED, [filters]).fetchall()}


def problems_table(
    source: str, problems: Sequence[ArchiveProblem], occurred_at: datetime, run_id: str | None
) -> pa.Table:
    """Build the Arrow table of a file's problems.

    Args:
        source: The archive file.
        problems: Its problems.
        occurred_at: When they were found.
        run_id: The backfill run.

    Returns:
        A table with PROBLEM_SCHEMA.
    """
    return pa.table(
        {
            "source_file": [source] * len(problems),
            "source_offset": [p.offset for p in problems],
            "source_record": [p.record_id for p in problems],
            "url": [p.url for p in problems],
            "problem": [p.kind for p in problems],
            "message": [p.message for p in problems],
            "http_status": [p.http_status for p in problems],
            "occurred_at": [occurred_at] * len(problems),
            "run_id": [run_id] * len(problems),
        },
        schema=PROBLEM_SCHEMA,
    )


def mark_loaded(
    con: duckdb.DuckDBPyConnection,
    load: ArchiveLoad,
    filters: str,
    problems: Sequence[ArchiveProblem],
    started_at: datetime,
    loaded_at: datetime,
    run_id: str | None,
) -> None:
    """Record a file as loaded, with its problems, in one transaction (after all its articles are stored).

    Args:
        con: Read-write connection.
        load: What the load did.
        filters: The backfill's filters.
        problems: The file's problems.
        started_at: When its load began.
        loaded_at: When its last batch was stored.
        run_id: The backfill run.
    """
    with transaction(con):
        con.execute(_DELETE_PROBLEMS, [load.source])
        if problems:
            execute_with(
                con,
                "problem_batch",
                problems_table(load.source, problems, loaded_at, run_id),
                _INSERT_PROBLEMS,
            )
        con.execute(
            _INSERT_FILE,
            [
                load.source,
                filters,
                load.records,
                load.stored,
                load.skipped,
                load.failed,
                started_at,
                loaded_at,
                run_id,
            ],
        )
