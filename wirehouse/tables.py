"""Query results rendered for people and programs: aligned tables, CSV, JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_CELL = 60
MIN_CELL = 8  # a column is not shrunk below this (or its name), it is hidden instead
GAP = 2


@dataclass(frozen=True)
class Layout:
    """How a table is laid out: fitted to a width, or everything shown in full."""

    width: int | None = None  # fit into this many characters (a terminal's); None: no limit
    wide: bool = False  # every cell in full, however wide
    # Most important first: the last shrink first, and are hidden first when shrinking is not enough.
    priority: Sequence[str] = ()


def select_columns(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], wanted: Sequence[str]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Keep only the wanted columns, in the order wanted.

    Args:
        columns: The table's column names.
        rows: Its rows.
        wanted: Names of the columns to keep.

    Returns:
        The chosen columns and rows.

    Raises:
        ValueError: A wanted column is not in the table (the message lists those that are).
    """
    unknown = [name for name in wanted if name not in columns]
    if unknown:
        raise ValueError(f"no column {unknown[0]!r}; the columns are {', '.join(columns)}")
    index = [list(columns).index(name) for name in wanted]
    return list(wanted), [tuple(row[i] for i in index) for row in rows]


def _fitted(columns: Sequence[str], widths: list[int], layout: Layout) -> tuple[list[int], list[int]]:
    """Fit a table to ``layout.width``: hide the fewest least important columns, shrink the rest.

    A column shrinks to half its width at most (never below its name or MIN_CELL), the least important
    first; where that is not enough, the least important columns are hidden. Returns widths and the
    indexes of the columns shown.
    """
    limit = layout.width or 0
    ranked = [c for c in layout.priority if c in columns] + [c for c in columns if c not in layout.priority]
    by_rank = [list(columns).index(name) for name in ranked]  # most important first
    for keep in range(len(by_rank), 0, -1):
        shown = sorted(by_rank[:keep])
        fitted = list(widths)
        excess = sum(fitted[i] for i in shown) + GAP * (keep - 1) - limit
        for i in reversed(by_rank[:keep]):
            if excess <= 0:
                break
            floor = min(widths[i], max(len(columns[i]), MIN_CELL, widths[i] // 2))
            cut = min(widths[i] - floor, excess)
            fitted[i] -= cut
            excess -= cut
        if excess <= 0:
            return fitted, shown
    top = by_rank[0]  # not even one column fits: it is cut to the width
    fitted = list(widths)
    fitted[top] = max(min(widths[top], limit), len(columns[top]))
    return fitted, [top]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return " ".join(str(value).split())


def format_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, layout: Layout | None = None
) -> str:
    """Render query results as an aligned table, CSV or JSON.

    Args:
        columns: Column names.
        rows: Result rows.
        fmt: ``table``, ``csv`` or ``json``.
        layout: For tables: a width to fit, or everything in full (default: cells cut at 60 characters).

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
    layout = layout or Layout()
    limit = None if layout.wide else MAX_CELL
    cells = [[_cut(c, limit) for c in map(_cell, row)] for row in rows]
    widths = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(columns)]
    shown = list(range(len(columns)))
    if layout.width and not layout.wide:
        widths, shown = _fitted(columns, widths, layout)
    lines = [
        "  ".join(columns[i].ljust(widths[i]) for i in shown).rstrip(),
        "  ".join("-" * widths[i] for i in shown),
        *("  ".join(_cut(r[i], widths[i]).ljust(widths[i]) for i in shown).rstrip() for r in cells),
    ]
    footer = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    hidden = [name for i, name in enumerate(columns) if i not in shown]
    if hidden:
        named = f"{footer}; hidden: {', '.join(hidden)}; --wide shows all"
        footer = (
            named
            if len(named) + 2 <= (layout.width or 0)
            else f"{footer}; {len(hidden)} columns hidden: --wide shows all"
        )
    return "\n".join([*lines, f"({footer})"]) + "\n"


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
