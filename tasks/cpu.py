"""CPU stage: extraction and enrichment of page batches in worker processes, so every core works."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import replace
from typing import ParamSpec, TypeVar

from tasks.records import Article, Page

logger = logging.getLogger(__name__)
CHUNK_PAGES = 5  # pages per worker job: small enough to share a batch between cores, big enough to amortise


def process_pages(pages: list[Page]) -> list[Article]:
    """Extract and enrich a batch of pages (runs in a worker process).

    Args:
        pages: Fetched pages.

    Returns:
        One enriched article per page, in order.
    """
    # Imported here: the flow's own process never extracts (unless the pool breaks), and trafilatura,
    # extruct and the enrichers cost ~0.3 s of start-up (measured) that a run with nothing new should not pay.
    from tasks.enrich import enrich_article
    from tasks.extract import extract_article
    from tasks.rawhtml import compress_html

    articles = [enrich_article(extract_article(page)) for page in pages]
    # Compressed here, in parallel, so only a fifth of each page travels back to the flow's process.
    return [
        replace(a, raw_html=None, raw_html_zlib=compress_html(a.raw_html)) if a.raw_html else a
        for a in articles
    ]


def _warm_up() -> None:
    # Load langdetect's profiles and trafilatura's imports once per worker, not in the first batch.
    import tasks.extract  # noqa: F401  (trafilatura, extruct: the heavy imports)
    from tasks.enrich.language import detect_language

    detect_language("Ein kurzer Satz, damit die Sprachprofile geladen werden, bevor die Arbeit beginnt.")


def worker_count(configured: int) -> int:
    """Workers to start: the configured number, or one per CPU core when it is 0.

    Args:
        configured: The cpu_workers setting.

    Returns:
        At least 1.
    """
    return configured if configured > 0 else max(1, os.cpu_count() or 1)


P = ParamSpec("P")
T = TypeVar("T")


class LazyProcessPool(Executor):
    """A spawned process pool that starts its workers only when there is work (or when warmed).

    A run that finds nothing new never pays the ~1-2 s of CPU for starting and importing workers.
    """

    def __init__(self, workers: int) -> None:
        """Prepare (but do not start) ``workers`` processes."""
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        """Whether the worker processes exist."""
        return self._pool is not None

    def _started_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_warm_up
            )
        return self._pool

    def warm(self) -> None:
        """Start every worker now, so they import and warm up while the first pages download."""
        pool = self._started_pool()
        for _ in range(self.workers):
            pool.submit(_noop)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` in a worker process (starting the pool if needed)."""
        return self._started_pool().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers, if they were ever started."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@contextmanager
def cpu_pool(workers: int) -> Iterator[LazyProcessPool]:
    """A pool of worker processes for the run (spawned: forking a process with Prefect's threads is unsafe).

    Args:
        workers: Number of processes (0: one per core).

    Yields:
        The pool; no process starts before the first job or :meth:`LazyProcessPool.warm`; it is shut
        down when the block ends.
    """
    pool = LazyProcessPool(worker_count(workers))
    try:
        yield pool
    finally:
        pool.shutdown()


def _noop() -> None:
    """Nothing: submitted once per worker so that the pool starts all of them at once."""


def process_in_pool(pool: Executor, pages: list[Page]) -> list[Article]:
    """Process a batch in the worker pool, or here when the pool is broken.

    Args:
        pool: The run's process pool.
        pages: Fetched pages.

    Returns:
        The enriched articles, in order.
    """
    # Small chunks, so that every worker takes part in every batch (no core idles on a batch's tail).
    chunks = [pages[i : i + CHUNK_PAGES] for i in range(0, len(pages), CHUNK_PAGES)]
    try:
        return [article for chunk in pool.map(process_pages, chunks) for article in chunk]
    except BrokenProcessPool:
        # A worker died (killed, out of memory, a crash in a C parser): finish this batch here
        # rather than lose it; later batches do the same, slower but complete.
        logger.warning("worker pool broken; processing %d pages in this process", len(pages))
        return process_pages(pages)
