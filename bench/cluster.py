"""The CPU stage's pages/s with the local process pool and with a Dask cluster on the same machine.

    python -m bench.cluster --corpus ../shared/corpora/fundus      (make bench-cluster)

The corpus pages (repeated to about 1,000) are extracted and enriched in batches of 50, four batches
in flight as in a flow, once by the local 2-process pool and once by a Dask scheduler with 2 workers of
1 thread each, started here as separate processes on 127.0.0.1 (at the local workers' lower priority).
Nothing is fetched or stored: this measures only what the cluster adds to the CPU stage. Also measured:
one round trip of an empty job to the cluster. On a shared machine absolute numbers are noisy; compare
the ratio of one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.support.corpus_site import DEFAULT_CORPUS, load_truth

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_PAGES = 1000
BATCH = 50
IN_FLIGHT = 4  # batches at once, as flows/ingest.py keeps them
WORKERS = 2
ROUND_TRIPS = 30


@dataclass
class DaskCluster:
    """A Dask scheduler and its worker processes on 127.0.0.1."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]

    def kill_worker(self, number: int) -> None:
        """SIGKILL worker process ``number`` (with a nanny: the nanny; started with --no-nanny: the worker)."""
        os.kill(self.workers[number].pid, signal.SIGKILL)


@contextmanager
def dask_cluster(
    folder: Path,
    workers: int = WORKERS,
    *,
    nanny: bool = False,
    allowed_failures: int | None = None,
    niceness: int = 0,
    timeout: float = 180.0,
) -> Iterator[DaskCluster]:
    """Start ``dask scheduler`` and ``workers`` × ``dask worker --nthreads 1`` of this venv; stop them after.

    Args:
        folder: For the scheduler file, the workers' scratch space and the processes' logs.
        workers: Worker processes (one thread each).
        nanny: Start each worker under a nanny (which restarts it when it dies).
        allowed_failures: The scheduler's ``distributed.scheduler.allowed-failures`` (None: Dask's default).
        niceness: Added to the workers' nice value.
        timeout: Seconds to wait for the scheduler and every worker.

    Yields:
        The running cluster.
    """
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}  # the workers import tasks (and tests' plugins)
    if allowed_failures is not None:
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(allowed_failures)
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT, start_new_session=True
            )
        started.append(process)
        return process

    try:
        scheduler = start(
            "scheduler",
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
        )
        deadline = time.monotonic() + timeout
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start; see {folder / 'scheduler.log'}")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        nice = ["nice", "-n", str(niceness)] if niceness else []
        procs = [
            start(
                f"worker-{n}",
                [*nice, str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1"]
                + ["--host", "127.0.0.1", "--no-dashboard", "--name", f"worker-{n}"]
                + ["--local-directory", str(folder / f"worker-{n}")]
                + ([] if nanny else ["--no-nanny"]),
            )
            for n in range(workers)
        ]
        with Client(address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=max(1.0, deadline - time.monotonic()))
        yield DaskCluster(address, scheduler, procs)
    finally:
        # Workers first: a worker whose scheduler is already gone waits for it instead of closing.
        for group in (started[1:], started[:1]):
            for process in group:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def corpus_pages(corpus: Path, count: int) -> list:  # list[Page]; tasks imported late, as in the flow
    """The corpus pages as fetched pages, repeated until there are ``count``."""
    from core.records import FeedEntry, Page

    rows = load_truth(corpus)
    bodies = [(row["url"], gzip.decompress((corpus / row["file"]).read_bytes())) for row in rows]
    fetched = datetime(2026, 1, 1, tzinfo=UTC)
    pages = []
    for n in range(count):
        url, body = bodies[n % len(bodies)]
        entry = FeedEntry(feed_url="https://bench.invalid/feed", url=url, link=url)
        pages.append(
            Page(
                entry=entry,
                fetched_at=fetched,
                final_url=url,
                http_status=200,
                content_type="text/html",
                body=body,
            )
        )
    return pages


def run_batches(pool: Executor, pages: Sequence) -> float:
    """Process ``pages`` in batches, ``IN_FLIGHT`` at once; seconds taken."""
    from tasks.cpu import process_in_pool

    batches = [list(pages[i : i + BATCH]) for i in range(0, len(pages), BATCH)]
    started = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as threads:
        done = sum(len(articles) for articles in threads.map(lambda b: process_in_pool(pool, b), batches))
    seconds = time.perf_counter() - started
    assert done == len(pages)
    return seconds


def round_trip_ms(pool: Executor, fn: object) -> float:
    """Median milliseconds for one empty job to go to a worker and back."""
    times = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        pool.submit(fn, []).result()  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the report; 0 also when the corpus is absent (then skipped)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES, help="pages per measurement")
    args = parser.parse_args(argv)
    if not (args.corpus / "truth.jsonl").is_file():
        print(
            f"cluster benchmark skipped: no corpus at {args.corpus} (it lives beside the project in ../shared)"
        )
        return 0

    from tasks.cluster import DaskPool, pack_pages, process_packed_pages
    from tasks.cpu import WORKER_NICENESS, LazyProcessPool, process_pages

    pages = corpus_pages(args.corpus, args.pages)
    raw = sum(len(p.body) for p in pages)
    packed = sum(len(p.body) for p in pack_pages(pages))
    warm_up = pages[: 2 * WORKERS * 5]

    local = LazyProcessPool(WORKERS)
    try:
        local.warm()
        run_batches(local, warm_up)
        local_rt = round_trip_ms(local, process_pages)
        local_s = run_batches(local, pages)
    finally:
        local.shutdown()

    # The workers get the local pool's lower priority too: the same two cores, the same terms.
    with (
        tempfile.TemporaryDirectory(prefix="wirehouse-bench-cluster-") as scratch,
        dask_cluster(Path(scratch), WORKERS, niceness=WORKER_NICENESS) as cluster,
    ):
        pool = DaskPool(cluster.address)
        try:
            run_batches(pool, warm_up)
            dask_rt = round_trip_ms(pool, process_packed_pages)
            dask_s = run_batches(pool, pages)
        finally:
            pool.shutdown()

    local_rate, dask_rate = len(pages) / local_s, len(pages) / dask_s
    print(f"== CPU stage: {len(pages)} pages of {args.corpus} ({os.cpu_count()} cores), batches of {BATCH}")
    print(f"pages to workers: {raw / 2**20:.1f} MiB as fetched, {packed / 2**20:.1f} MiB compressed")
    print(f"{'':28}{'pages/s':>9}{'seconds':>9}{'empty job ms':>14}")
    print(f"{'local pool, 2 processes':28}{local_rate:9.1f}{local_s:9.1f}{local_rt:14.1f}")
    print(f"{'Dask, 2 workers x 1 thread':28}{dask_rate:9.1f}{dask_s:9.1f}{dask_rt:14.1f}")
    overhead = 1 - dask_rate / local_rate
    verdict = "ok" if overhead <= 0.15 else "over the 15 % target"
    print(f"cluster overhead: {overhead:.1%} of the local pool's pages/s ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
