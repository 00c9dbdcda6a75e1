"""CPU stage: extraction and enrichment of page batches in worker processes, so every core works."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import replace
from typing import ParamSpec, Protocol, TypeVar, runtime_checkable

from core.records import Article, Page

logger = logging.getLogger(__name__)
# A page that takes this long is hostile or pathological (typical pages take tens of milliseconds):
# it is stored as an error instead of holding a worker, and so its batch, for minutes.
PAGE_SECONDS = 30.0
WORKER_NICENESS = 10  # added to the workers' nice value (Unix): lower priority than interactive work
CHUNK_PAGES = 5  # pages per worker job: small enough to share a batch between cores, big enough to amortise


def process_pages(pages: list[Page]) -> list[Article]:
    """Extract and enrich a batch of pages (runs in a worker process).

    Args:
        pages: Fetched pages.

    Returns:
        One enriched article per page, in order.
    """
    # Imported here: the flow's own process never extracts (unless the pool breaks), and trafilatura,
    # extruct and the enrichers cost start-up time that a run with nothing new should not pay.
    from core.rawhtml import compress_html

    articles = [process_page(page) for page in pages]
    # Compressed here, in parallel, so only a fifth of each page travels back to the flow's process.
    return [
        replace(a, raw_html=None, raw_html_zlib=compress_html(a.raw_html)) if a.raw_html else a
        for a in articles
    ]


def process_page(page: Page) -> Article:
    """Extract, validate and enrich one page; a page that makes any step raise is stored as an error.

    Args:
        page: A fetched page.

    Returns:
        The article, every value within its range; ``extraction_status`` is ``error`` (with the
        exception in ``extraction_error``) where extraction or enrichment raised.
    """
    from tasks.enrich import enrich_article
    from tasks.extract import extract_article, fallback_article
    from tasks.validate import defuse_html, validate_article

    try:
        with time_limit(PAGE_SECONDS):
            defused = replace(page, body=defuse_html(page.body)) if page.body else page
            article = extract_article(defused)
            if article.raw_html is not None:  # the page as served is what is kept for re-processing
                article = replace(article, raw_html=page.body)
            # Validated before enrichment too: enrichers must not meet a 1 MB title or a year-1 date.
            return validate_article(enrich_article(validate_article(article)))
    except Exception as exc:  # one page must never fail its batch; the row records what happened
        logger.debug("page %s failed to process: %s: %s", page.entry.url, type(exc).__name__, exc)
        return validate_article(fallback_article(page, "error", f"{type(exc).__name__}: {exc}"))


class PageTimeoutError(Exception):
    """A page took longer than ``PAGE_SECONDS`` to extract and enrich."""

    def __init__(self, message: str = f"extraction took longer than {PAGE_SECONDS:g} s") -> None:
        """Default message: raised asynchronously in a thread, the error is made without arguments."""
        super().__init__(message)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise PageTimeoutError in this block after ``seconds``.

    In the main thread by SIGALRM; in another thread (a Dask worker's, or the flow's own tasks' when
    the pool is broken) as an asynchronous exception. Both interrupt Python code only: a single call
    into C (one libxml2 parse) finishes first.

    Args:
        seconds: The budget.

    Yields:
        Nothing; the block runs under the limit.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        with _thread_time_limit(seconds):
            yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise PageTimeoutError(f"extraction took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _thread_time_limit(seconds: float) -> Iterator[None]:
    """:func:`time_limit` for a thread that is not the main one: signals reach only the main thread."""
    import ctypes

    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def expire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(PageTimeoutError))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
            timer.cancel()
            if state["fired"]:  # fired as the block ended: drop the error before it surfaces elsewhere
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in the calling thread while it spawns workers: they start with it blocked."""
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _warm_up() -> None:
    # A terminal's Ctrl-C goes to the whole process group: the flow's process handles it (and stops
    # these workers); a worker must not die of it halfway through a job, printing a traceback. The
    # spawning thread blocked SIGINT (inherited by the new process), so none arrived before this line.
    if hasattr(signal, "pthread_sigmask"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # Extraction is batch work: at a lower priority it yields the cores to whoever else needs them
    # now (a user's `wirehouse query` during the ingest, the flow's own process storing a batch) and
    # loses nothing when the machine is otherwise idle (`make bench-quick`: readers' p50/p95).
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
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
        with _sigint_blocked():
            for _ in range(self.workers):
                pool.submit(_noop)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` in a worker process (starting the pool, or a worker, if needed)."""
        with _sigint_blocked():  # the executor spawns workers from inside submit()
            return self._started_pool().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers, if they were ever started."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@runtime_checkable
class BatchProcessor(Protocol):
    """An executor that processes whole batches itself (the Dask cluster: pages travel compressed)."""

    def process(self, pages: list[Page]) -> list[Article]:
        """Extract and enrich ``pages``; one article per page, in order."""
        ...  # pragma: no cover

    def warm(self) -> None:
        """Prepare the workers before the first batch."""
        ...  # pragma: no cover


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
    if isinstance(pool, BatchProcessor):
        return pool.process(pages)
    # Small chunks, so that every worker takes part in every batch (no core idles on a batch's tail).
    chunks = [pages[i : i + CHUNK_PAGES] for i in range(0, len(pages), CHUNK_PAGES)]
    try:
        return [article for chunk in pool.map(process_pages, chunks) for article in chunk]
    except BrokenProcessPool:
        # A worker died (killed, out of memory, a crash in a C parser): finish this batch here
        # rather than lose it; later batches do the same, slower but complete.
        logger.warning("worker pool broken; processing %d pages in this process", len(pages))
        return process_pages(pages)
