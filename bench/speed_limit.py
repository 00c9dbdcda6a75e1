"""The limit of the speed bench: plain trafilatura + langdetect in a process pool over the served pages."""

from __future__ import annotations

import contextlib
import gzip
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from tests.support.corpus_site import CorpusPage

LIMIT_WORKERS = 2


@dataclass(frozen=True)
class LimitResult:
    """Plain trafilatura + langdetect in a process pool over the page files."""

    pages: int
    seconds: float
    with_text: int
    workers: int


def _warm_worker(barrier: Barrier) -> None:
    """Pool initializer: import and warm trafilatura and langdetect, then wait for the other workers."""
    import trafilatura
    from langdetect import DetectorFactory, detect_langs

    DetectorFactory.seed = 0
    detect_langs("Das ist ein kurzer Satz, der die Sprachprofile lädt.")  # loads the profiles once
    trafilatura.bare_extraction("<html><body><p>warm</p></body></html>", with_metadata=True)
    barrier.wait()


def extract_page(job: tuple[str, str]) -> bool:
    """Extract one gzipped page file the plain way: trafilatura with metadata, then langdetect.

    Args:
        job: ``(file path, URL the page is served at)``.

    Returns:
        Whether trafilatura found any text.
    """
    import trafilatura
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    path, url = job
    html = gzip.decompress(Path(path).read_bytes()).decode("utf-8", "replace")
    document: Any = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    text = document.text if document is not None else None
    if not text:
        return False
    with contextlib.suppress(LangDetectException):  # too little text to tell: still a page done
        detect_langs(text)
    return True


def measure_limit(pages: Sequence[CorpusPage], base: str, workers: int = LIMIT_WORKERS) -> LimitResult:
    """Time plain extraction of every page in a pool of warm worker processes.

    The clock covers ``Pool.map`` only: start-up, imports and langdetect's profile loading happen
    before it, in every worker, so the number is the steady-state throughput.

    Args:
        pages: The pages (all copies).
        base: Base URL the pages are served at (their URL is passed to trafilatura).
        workers: Worker processes.

    Returns:
        The measurement.
    """
    jobs = [(str(page.file), base + page.path) for page in pages]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    with context.Pool(workers, initializer=_warm_worker, initargs=(barrier,)) as pool:
        barrier.wait(timeout=300)
        started = time.perf_counter()
        found = pool.map(extract_page, jobs, chunksize=4)
        seconds = time.perf_counter() - started
    return LimitResult(len(jobs), seconds, sum(found), workers)
