"""Export and stats, the pure half: what an export wrote, which folder it may replace, the stats columns."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import PermanentError
from core.settings import VERSION

STATS_COLUMNS: dict[str, tuple[str, ...]] = {
    "feeds": ("feed_url", "title", "articles", "ok", "failed", "last_published", "last_ingested"),
    "languages": ("language", "articles", "share_pct"),
    "days": ("day", "articles", "ok"),
    "page_types": ("page_type", "articles", "ok", "low_confidence"),
    "raw": ("pages", "file_bytes", "bytes_per_page"),
    "files": ("orphan_files", "orphan_bytes"),
}


_PARTITION_DIR = re.compile(r"^(date|language)=[^/]*$")

# Written into every export; a folder holding it (and nothing but an export) may be replaced. The
# leading underscore makes pyarrow, Spark and DuckDB's hive readers skip it.
EXPORT_MARKER = "_wirehouse_export.json"
EXPORT_FILES = frozenset({"articles", "quotes.parquet", "stories.parquet"})
_PARQUET_MAGIC = b"PAR1"


class ExportError(PermanentError):
    """The export cannot be written; the message is meant for the user."""


class ExportRefusedError(ExportError):
    """The folder holds something an export did not write, so writing there could destroy it."""


@dataclass(frozen=True)
class ExportStats:
    """What an export wrote."""

    out_dir: Path
    articles: int
    quotes: int
    stories: int
    files: int  # Parquet files written in all
    bytes: int
    seconds: float


def is_previous_export(folder: Path) -> bool:
    """Tell whether a folder holds nothing but a Hive-partitioned export (so replacing it loses nothing)."""
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).parts
        if path.is_dir() and not path.is_symlink():
            if not all(_PARTITION_DIR.match(part) for part in relative):
                return False
        elif not (path.is_file() and path.suffix == ".parquet" and len(relative) == 3):
            return False
    return True


def export_marker(stats: ExportStats, snapshot: int | None, now: datetime | None = None) -> str:
    """The marker file's text: what wrote the export, from which snapshot, and what it holds.

    Args:
        stats: What the export wrote.
        snapshot: The lake's snapshot the export read, if known.
        now: The time written (default: now).

    Returns:
        A JSON document.
    """
    return json.dumps(
        {
            "wirehouse_export": 1,
            "wirehouse_version": VERSION,
            "written_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "snapshot": snapshot,
            "articles": stats.articles,
            "quotes": stats.quotes,
            "stories": stats.stories,
        },
        indent=2,
    )


def _has_marker(folder: Path) -> bool:
    try:
        data = json.loads((folder / EXPORT_MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("wirehouse_export") == 1


def _is_parquet(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return path.is_file() and not path.is_symlink() and file.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def _is_unmarked_export(folder: Path, names: set[str]) -> bool:
    # Exports written before the marker existed: the daily maintenance flow keeps replacing its
    # exports/ after an upgrade. All three parts must be there and be Parquet, so a lone
    # quotes.parquet of the user's is never taken for one.
    return (
        names == EXPORT_FILES
        and (folder / "articles").is_dir()
        and is_previous_export(folder / "articles")
        and all(_is_parquet(folder / name) for name in ("quotes.parquet", "stories.parquet"))
    )


def check_export_target(folder: Path) -> None:
    """Refuse a folder that holds anything but an earlier export (a missing or empty one is fine).

    Args:
        folder: Where the export is to go.

    Raises:
        ExportRefusedError: The folder is a file, or holds files an export did not write.
    """
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir():
        raise ExportRefusedError(f"{folder} is a file, not a folder; choose a new or empty folder")
    names = {path.name for path in folder.iterdir()}
    if not names:
        return
    if _has_marker(folder):
        others = sorted(names - EXPORT_FILES - {EXPORT_MARKER})
        articles = folder / "articles"
        if articles.exists() and not (articles.is_dir() and is_previous_export(articles)):
            others.insert(0, "articles/")
        if not others:
            return
        raise ExportRefusedError(
            f"{folder} holds an earlier export and also {_listed(others)}, which the export did not write;"
            " move them out or choose a new or empty folder"
        )
    if _is_unmarked_export(folder, names):
        return
    raise ExportRefusedError(
        f"{folder} is not empty and holds no earlier wirehouse export ({_listed(sorted(names))});"
        " choose a new or empty folder"
    )


def _listed(names: list[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
