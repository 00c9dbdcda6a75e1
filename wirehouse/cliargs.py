"""What the commands share: their errors, the warehouse they name, argument types, table output, notes."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import PermanentError
from core.settings import load_settings
from wirehouse.tables import Layout, format_rows, select_columns


class UserError(PermanentError):
    """An error the user can fix; printed as one line."""

    exit_code = 1


class RefusedError(UserError):
    """Refused because going on would destroy something of the user's (exit 2, like a usage error)."""

    exit_code = 2


# --------------------------------------------------------------------------- commands


def warehouse_path(args: argparse.Namespace) -> Path:
    """The warehouse a command names (--warehouse, else the settings); a folder is refused here."""
    path = load_settings(warehouse_path=getattr(args, "warehouse", None)).warehouse_path
    if path.is_dir():  # said here, before any command takes it for a missing or unusable file
        raise UserError(
            f"warehouse {path} is a directory, not the lake's catalog file (e.g. --warehouse {path / 'news.sqlite'})"
        )
    return path


def reading(args: argparse.Namespace) -> Path:
    """The warehouse of a reading command (readers never wait for an ingest: the lake's snapshots)."""
    return warehouse_path(args)


def write_table(
    args: argparse.Namespace, columns: Sequence[str], rows: Sequence[Sequence[Any]], priority: Sequence[str]
) -> None:
    """Print a table as ``--columns``, ``--wide`` and the terminal's width have it."""
    import shutil

    if args.columns:
        wanted = [name.strip() for name in args.columns.split(",") if name.strip()]
        try:
            columns, rows = select_columns(columns, rows, wanted)
        except ValueError as exc:
            raise UserError(f"--columns: {exc}") from exc
    # Only a terminal is fitted: a pipe or a file gets every column, as before.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    layout = Layout(width=width, wide=args.wide, priority=priority)
    sys.stdout.write(format_rows(columns, rows, args.format, layout))


def run_query(sql: str, warehouse: Path, fmt: str, as_of: str | None = None) -> str:
    """Run SQL read-only against the warehouse and render each statement's result.

    Args:
        sql: One statement, or several separated by ``;`` (each result is printed, in order).
        warehouse: The warehouse.
        fmt: Output format.
        as_of: A snapshot version or ISO time to read the lake as it was then.

    Returns:
        Rendered results: tables and CSV separated by a blank line, JSON one array per line.
    """
    from warehouse.connection import QueryError, parse_as_of, read_queries

    try:
        results = read_queries(warehouse, sql, parse_as_of(as_of) if as_of else None)
    except QueryError as exc:
        raise UserError(f"SQL error: {exc}") from exc
    rendered = [format_rows(columns, rows, fmt) for columns, rows in results if columns]
    return ("" if fmt == "json" else "\n").join(rendered)


def read_feed_list(source: str) -> list[Any]:
    """Read a feed list (path or URL) the way a run will, so that a bad one fails before the run."""
    from tasks.feeds import read_feed_list_source
    from tasks.http import HttpClient

    settings = load_settings()
    with HttpClient(settings) as client:
        return read_feed_list_source(source, client, settings)


def note(message: str) -> None:
    """Say something on stderr, as ``wirehouse: ...``."""
    print(f"wirehouse: {message}", file=sys.stderr, flush=True)


def since(value: str) -> dt.date:
    """Parse a ``YYYY-MM-DD`` argument."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def whole_number(value: str, low: int, high: int) -> int:
    """Parse a whole-number argument between ``low`` and ``high``."""
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from exc
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
    return number


def port_number(value: str) -> int:
    """Parse a TCP port argument."""
    return whole_number(value, 1, 65535)


def day_count(value: str) -> int:
    """Parse a number of days (1 to 10 years)."""
    return whole_number(value, 1, 3660)
