"""The storage half of the speed bench: readers during an ingest, lake files, and the pre-lake baseline.

bench.speed runs these around its ingests; the readers themselves are tests/support/readers.py.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tests.support.readers import POLL_SECONDS, ReaderStats

PROJECT = Path(__file__).resolve().parent.parent
# The subject of the commit that moved storage to DuckLake; the baseline is its parent.
MOVE_SUBJECT = "DuckLake storage"


# ------------------------------------------------------------------------------------------ readers


def reader_row(stats: ReaderStats, pages: int, flow_seconds: float | None) -> list[str]:
    """The bench table row for the readers: the ingest they ran alongside, then what they saw."""
    first, last = (stats.counts[0], stats.counts[-1]) if stats.counts else (0, 0)
    return [
        "ingest with readers, in-flow only",
        f"{pages:,}",
        f"{flow_seconds:.1f}" if flow_seconds else "",
        f"{pages / flow_seconds:.1f}" if flow_seconds else "",
        "",
        f"{stats.queries} x `wirehouse query` every {POLL_SECONDS:g} s: {stats.errors} errors, "
        f"p50 {stats.p50:.2f} s, p95 {stats.p95:.2f} s (process start included); count {first:,} -> "
        f"{last:,}, " + ("never went down" if stats.never_down else "WENT DOWN"),
    ]


# ------------------------------------------------------------------------------------------ files


def parquet_files(data_dir: Path) -> int:
    """Parquet files under a lake's data folder (0 when it does not exist)."""
    return sum(1 for _ in data_dir.rglob("*.parquet")) if data_dir.is_dir() else 0


@dataclass(frozen=True)
class FileCounts:
    """Parquet files on disk and in the catalog, after the ingests and after one upkeep pass."""

    before: int
    after: int
    catalog_before: int
    catalog_after: int
    seconds: float


def upkeep_files(warehouse: Path) -> FileCounts:
    """Count the lake's files, run the maintenance flow's upkeep once with no grace, count again.

    No snapshot is kept and no grace given, so the pass deletes what the daily flow deletes once its
    grace period has passed. Only run while no ingest writes the lake.
    """
    from warehouse.connection import lake_of, open_warehouse
    from warehouse.maintenance import upkeep

    data_dir = Path(lake_of(warehouse).data_path or "")
    before = parquet_files(data_dir)
    started = time.perf_counter()
    with open_warehouse(warehouse) as con:
        done = upkeep(con, keep_snapshots=timedelta(0), file_grace=timedelta(0))
    seconds = time.perf_counter() - started
    return FileCounts(before, parquet_files(data_dir), done.files_before, done.files_after, seconds)


def files_row(files: FileCounts) -> list[str]:
    """The bench table row for the file counts."""
    return [
        "lake files: before -> after upkeep",
        "",
        f"{files.seconds:.1f}",
        "",
        "",
        f"Parquet files in the data folder {files.before:,} -> {files.after:,} (catalog lists "
        f"{files.catalog_before:,} -> {files.catalog_after:,}); upkeep of the maintenance flow, "
        "no snapshot kept, no grace",
    ]


# ------------------------------------------------------------------------------------------ baseline


def move_parent(log: str) -> str | None:
    """The first parent of the newest commit whose subject starts with MOVE_SUBJECT.

    Args:
        log: ``git log --format=%H%x09%P%x09%s`` output (commit, parents, subject; tab-separated).

    Returns:
        The parent commit, or None when no such commit is listed.
    """
    for line in log.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[2].startswith(MOVE_SUBJECT) and parts[1].strip():
            return parts[1].split()[0]
    return None


def default_baseline_ref(project: Path = PROJECT) -> str | None:
    """The last commit before the DuckLake move, from this checkout's history."""
    done = subprocess.run(
        ["git", "-C", str(project), "log", "--format=%H%x09%P%x09%s"],
        capture_output=True,
        text=True,
        check=False,
    )
    return move_parent(done.stdout) if done.returncode == 0 else None


@contextlib.contextmanager
def baseline_checkout(ref: str, project: Path = PROJECT) -> Iterator[Path]:
    """A temporary ``git worktree`` of ``ref``, removed afterwards.

    Raises:
        RuntimeError: When git cannot check the ref out.
    """
    folder = Path(tempfile.mkdtemp(prefix="wirehouse-baseline-")) / "tree"
    done = subprocess.run(
        ["git", "-C", str(project), "worktree", "add", "--detach", str(folder), ref],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git worktree add {ref} failed: {done.stderr.strip()[-300:]}")
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(project), "worktree", "remove", "--force", str(folder)],
            capture_output=True,
            check=False,
        )
        with contextlib.suppress(OSError):
            folder.parent.rmdir()


def baseline_rows(
    ref: str, pages: int, baseline_seconds: float | None, lake_seconds: float | None
) -> list[list[str]]:
    """Bench table rows comparing the in-flow time of the same ingest at ``ref`` and now."""

    def rate(seconds: float | None) -> str:
        return f"{pages / seconds:.1f}" if seconds else ""

    ratio = (
        f"lake/baseline time {lake_seconds / baseline_seconds:.2f}x"
        if lake_seconds and baseline_seconds
        else "no ratio (a run failed)"
    )
    return [
        [
            f"baseline {ref[:10]}, in-flow only",
            f"{pages:,}",
            f"{baseline_seconds:.1f}" if baseline_seconds else "",
            rate(baseline_seconds),
            "",
            "the K ingest with the code before the DuckLake move (a DuckDB file), same venv",
        ],
        [
            "lake (this tree), in-flow only",
            f"{pages:,}",
            f"{lake_seconds:.1f}" if lake_seconds else "",
            rate(lake_seconds),
            "",
            f"run 1 above (no readers); {ratio}",
        ],
    ]
