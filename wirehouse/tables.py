"""Query results rendered for people and programs: aligned tables, CSV, JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

MAX_CELL = 60


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return " ".join(str(value).split())


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """Render query results as an aligned table, CSV or JSON.

    Args:
        columns: Column names.
        rows: Result rows.
        fmt: ``table``, ``csv`` or ``json``.

    Returns:
        The rendered text, ending in a newline.
    """
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) if isinstance(v, list | tuple) else v for v in row] for row in rows])
        return buffer.getvalue()
    if fmt == "json":

        def default(value: Any) -> Any:
            if isinstance(value, dt.datetime | dt.date | dt.time):
                return value.isoformat()
            if isinstance(value, Decimal):
                return float(value)
            if isinstance(value, bytes):
                return value.hex()
            return str(value)

        return (
            json.dumps(
                [dict(zip(columns, row, strict=True)) for row in rows], ensure_ascii=False, default=default
            )
            + "\n"
        )
    cells = [
        [(c if len(c) <= MAX_CELL else c[: MAX_CELL - 1] + "…") for c in map(_cell, row)] for row in rows
    ]
    widths = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(columns)]
    lines = [
        "  ".join(name.ljust(w) for name, w in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
        *("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells),
        f"({len(rows)} row{'s' if len(rows) != 1 else ''})",
    ]
    return "\n".join(lines) + "\n"
