"""Export and stats, the pure half: what an export wrote, which folder it may replace, the stats columns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from wirehouse.errors import PermanentError

STATS_COLUMNS: dict[str, tuple[str, ...]] = {
    "feeds": ("feed_url", "title", "articles", "ok", "failed", "last_published", "last_ingested"),
    "languages": ("language", "articles", "share_pct"),
    "days": ("day", "articles", "ok"),
    "files": ("orphan_files", "orphan_bytes"),
}


_PARTITION_DIR = re.compile(r"^(date|language)=[^/]*$")


class ExportError(PermanentError):
    """The export cannot be written; the message is meant for the user."""


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
