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
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from tests.support.corpus_site import DEFAULT_CORPUS, load_truth
from tests.support.daskcluster import dask_cluster

DEFAULT_PAGES = 1000
BATCH = 50
IN_FLIGHT = 4  # batches at once, as flows/ingest.py keeps them
WORKERS = 2
ROUND_TRIPS = 30


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
