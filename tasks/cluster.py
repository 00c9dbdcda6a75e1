"""The CPU stage on an existing Dask cluster: batches go to its workers, articles come back to the flow.

Set by ``WIREHOUSE_DASK_ADDRESS`` (or ``--dask-address``). The workers run this project's code, so they
must run in an environment with wirehouse installed (the project's venv); nothing is uploaded to them.
Workers only extract and enrich: the flow's process stores what comes back (the lake has one merger).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from core.errors import TransientError
from core.records import Article, Page
from tasks.cpu import CHUNK_PAGES, process_pages

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

# Seconds to wait for the scheduler at the start of a run before giving up with one clear line.
CONNECT_SECONDS = 10.0
# Pages cross the network compressed: fast zlib, since the flow's process (the one merger) pays for it.
# `python -m bench.cluster` measures the whole round trip.
PAGE_LEVEL = 1
PLUGIN_NAME = "wirehouse-warm-up"

P = ParamSpec("P")
T = TypeVar("T")


class DaskSchedulerError(TransientError):
    """The Dask scheduler named by the ``dask_address`` setting cannot be reached."""


def pack_pages(pages: list[Page]) -> list[Page]:
    """Compress each page's body for the trip to a worker.

    Args:
        pages: Fetched pages.

    Returns:
        The same pages with zlib-compressed bodies (:func:`unpack_pages` undoes it).
    """
    return [replace(p, body=zlib.compress(p.body, PAGE_LEVEL)) if p.body else p for p in pages]


def unpack_pages(pages: list[Page]) -> list[Page]:
    """Decompress the bodies :func:`pack_pages` compressed.

    Args:
        pages: Packed pages.

    Returns:
        The pages as fetched.
    """
    return [replace(p, body=zlib.decompress(p.body)) if p.body else p for p in pages]


def process_packed_pages(pages: list[Page]) -> list[Article]:
    """Extract and enrich a chunk of packed pages (runs on a Dask worker).

    Args:
        pages: Pages with compressed bodies.

    Returns:
        One article per page, in order, raw HTML compressed as :func:`tasks.cpu.process_pages` leaves it.
    """
    return process_pages(unpack_pages(pages))


def lost_chunk_articles(pages: list[Page], reason: str) -> list[Article]:
    """Error rows for pages whose job the cluster gave up on (it killed every worker that ran it).

    Args:
        pages: The chunk's pages (bodies as fetched).
        reason: What the cluster reported.

    Returns:
        One ``error`` article per page with its raw HTML, so ``wirehouse reprocess --status error``
        can try again.
    """
    from core.rawhtml import compress_html
    from tasks.extract import fallback_article
    from tasks.validate import validate_article

    articles = [validate_article(fallback_article(page, "error", reason)) for page in pages]
    return [
        replace(a, raw_html=None, raw_html_zlib=compress_html(a.raw_html)) if a.raw_html else a
        for a in articles
    ]


def warm_up_worker() -> None:
    """Import the extractors and load the language profiles once, before a worker's first job."""
    import tasks.extract  # noqa: F401  (trafilatura, extruct: the heavy imports)
    from tasks.enrich.language import detect_language

    detect_language("Ein kurzer Satz, damit die Sprachprofile geladen werden, bevor die Arbeit beginnt.")


def connect(address: str, timeout: float = CONNECT_SECONDS) -> Client:
    """Connect to a running Dask scheduler (never start a cluster).

    Args:
        address: The scheduler, e.g. ``tcp://host:8786``.
        timeout: Seconds to wait for it.

    Returns:
        A client of the cluster.

    Raises:
        DaskSchedulerError: The scheduler did not answer within ``timeout`` or the address is unusable.
    """
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise DaskSchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def check_scheduler(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Connect once and disconnect: the CLI fails before a run instead of inside it.

    Args:
        address: The scheduler.
        timeout: Seconds to wait for it.

    Raises:
        DaskSchedulerError: It cannot be reached.
    """
    connect(address, timeout).close()  # type: ignore[no-untyped-call]


def _warm_up_plugin() -> Any:
    # Defined here, not at module level: distributed is imported only by runs that use a cluster.
    from distributed import WorkerPlugin

    class WarmUp(WorkerPlugin):
        """Warms every worker of the cluster up once, including workers that join (or restart) later."""

        def setup(self, worker: Any) -> None:
            warm_up_worker()

    return WarmUp()


def _result(future: Any) -> list[Article] | Exception:
    """A job's articles, or the KilledWorker error where the cluster gave up on it."""
    from distributed import KilledWorker

    try:
        result: list[Article] = future.result()
        return result
    except KilledWorker as exc:
        return exc


def _lost(pages: list[Page], exc: Exception) -> list[Article]:
    logger.warning("the Dask cluster gave up on %s: %s", pages[0].entry.url, exc)
    return lost_chunk_articles(pages, f"{type(exc).__name__}: {exc}")


class DaskPool(Executor):
    """The run's CPU stage on a Dask cluster; ``process_in_pool`` sends it whole batches."""

    def __init__(self, address: str) -> None:
        """Connect to the scheduler at ``address`` and warm its workers up.

        Raises:
            DaskSchedulerError: The scheduler cannot be reached.
        """
        self.address = address
        self.client = connect(address)
        try:
            # Registering runs setup() on every worker now and on every worker that joins later.
            self.client.register_plugin(_warm_up_plugin(), name=PLUGIN_NAME)
        except Exception:
            self.client.close()  # type: ignore[no-untyped-call]
            raise
        self._executor = self.client.get_executor(pure=False)  # type: ignore[no-untyped-call]

    def warm(self) -> None:
        """Nothing to do: the plugin warmed every worker when the pool connected."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` on a worker of the cluster."""
        future: Future[T] = self._executor.submit(fn, *args, **kwargs)
        return future

    def process(self, pages: list[Page]) -> list[Article]:
        """Extract and enrich a batch on the cluster, chunk by chunk, and return its articles in order.

        A worker that dies has its jobs recomputed by the scheduler on another worker. The scheduler
        gives up on a job once ``distributed.scheduler.allowed-failures`` + 1 workers died while they
        held it, which also hits the jobs that only waited beside a poisonous one: such a chunk is tried
        again page by page, one page at a time, and only a page the cluster gives up on alone becomes
        an error row. One poisonous page never ends a run.

        Args:
            pages: Fetched pages.

        Returns:
            One article per page, in order.
        """
        chunks = [pages[i : i + CHUNK_PAGES] for i in range(0, len(pages), CHUNK_PAGES)]
        futures = [self.client.submit(process_packed_pages, pack_pages(c), pure=False) for c in chunks]
        articles: list[Article] = []
        for chunk, future in zip(chunks, futures, strict=True):
            done = _result(future)
            if isinstance(done, list):
                articles.extend(done)
            elif len(chunk) == 1:
                articles.extend(_lost(chunk, done))
            else:
                logger.warning("the Dask cluster gave up on %d pages; trying them one by one", len(chunk))
                # One after the other: a page that kills its worker must not take its neighbours along.
                for page in chunk:
                    alone = _result(self.client.submit(process_packed_pages, pack_pages([page]), pure=False))
                    articles.extend(alone if isinstance(alone, list) else _lost([page], alone))
        return articles

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Disconnect from the cluster (which goes on running)."""
        self._executor.shutdown(wait=wait)
        self.client.close()  # type: ignore[no-untyped-call]
