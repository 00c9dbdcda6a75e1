"""The storage half of the speed bench: readers during an ingest, lake files, and the pre-lake baseline.

bench.speed runs these around its ingests; tests/flows/test_concurrency.py polls readers the same way.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
COUNT = "select count(*) from articles"
POLL_SECONDS = 0.2
# The subject of the commit that moved storage to DuckLake; the baseline is its parent.
MOVE_SUBJECT = "DuckLake storage"


# ------------------------------------------------------------------------------------------ readers


@dataclass(frozen=True)
class ReaderQuery:
    """One `wirehouse query` process: its wall time (process start included) and what it printed."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """It exited 0 and wrote nothing to stderr."""
        return self.returncode == 0 and not self.stderr.strip()


def query_command(warehouse: Path | str, sql: str = COUNT) -> list[str]:
    """`wirehouse query` as a user types it, CSV out, with this interpreter."""
    return [
        sys.executable,
        "-m",
        "wirehouse.cli",
        "query",
        "--format",
        "csv",
        sql,
        "--warehouse",
        str(warehouse),
    ]


@dataclass
class QueryPoller:
    """Runs a query process every ``interval`` seconds on a thread until stopped.

    Use as a context manager around the ingest; ``queries`` holds every answer afterwards.
    """

    command: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    interval: float = POLL_SECONDS
    after_each: Callable[[], None] | None = None  # e.g. read through a connection held open meanwhile
    queries: list[ReaderQuery] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._done.is_set():
            started = time.perf_counter()
            result = subprocess.run(
                list(self.command),
                capture_output=True,
                text=True,
                cwd=self.cwd,
                env=dict(self.env),
                timeout=120,
                check=False,
            )
            seconds = time.perf_counter() - started
            self.queries.append(ReaderQuery(seconds, result.returncode, result.stdout, result.stderr))
            if self.after_each is not None:
                self.after_each()
            self._done.wait(self.interval)

    def __enter__(self) -> QueryPoller:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def csv_count(stdout: str) -> int | None:
    """The number under the header of a one-cell CSV answer, or None when there is none."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    try:
        return int(lines[1].strip())
    except ValueError:
        return None


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.5 is the median, 0.95 the p95); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered) - 1e-9)  # the tolerance keeps 0.95 x 20 at rank 19
    return ordered[min(len(ordered), max(1, rank)) - 1]


@dataclass(frozen=True)
class ReaderStats:
    """What the readers saw during one ingest."""

    queries: int
    errors: int
    p50: float
    p95: float
    counts: tuple[int, ...]  # the answers, in order (errors left out)

    @property
    def never_down(self) -> bool:
        """The count never went down from one answer to the next."""
        return all(a <= b for a, b in zip(self.counts, self.counts[1:], strict=False))


def reader_stats(queries: Sequence[ReaderQuery]) -> ReaderStats:
    """Summarise the reader queries: how many, how many failed, latency percentiles, the counts."""
    errors = sum(1 for q in queries if not q.ok or csv_count(q.stdout) is None)
    counts = tuple(c for q in queries if q.ok and (c := csv_count(q.stdout)) is not None)
    seconds = [q.seconds for q in queries]
    return ReaderStats(len(queries), errors, percentile(seconds, 0.5), percentile(seconds, 0.95), counts)


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
