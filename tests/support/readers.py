"""Readers during an ingest: `wirehouse query` processes polled on a thread, and what they saw.

tests/flows/test_concurrency.py polls readers with it; bench.speed runs it around an ingest (bench/lake.py).
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

COUNT = "select count(*) from articles"
POLL_SECONDS = 0.2


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
