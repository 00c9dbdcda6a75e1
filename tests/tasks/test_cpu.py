"""The CPU stage: a lazily started spawn pool that extracts and enriches pages in order."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from typing import Any

import psutil

from core.rawhtml import COMPRESSION, decompress_html
from core.records import FeedEntry, Page
from tasks.cpu import LazyProcessPool, process_in_pool, worker_count
from tasks.pools import cpu_pool

ARTICLE = (
    "<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    "<p>{sentence} The council met on Tuesday and agreed on the new budget after a long debate.</p>"
    "<p>Members said the plan would fund schools, roads and the public library for three more years.</p>"
    "</article></body></html>"
)


def _page(number: int) -> Page:
    url = f"https://example.org/news/{number}"
    html = ARTICLE.format(title=f"Council story number {number}", sentence=f"Story {number} begins here.")
    return Page(
        entry=FeedEntry(feed_url="https://example.org/feed", url=url, link=url),
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        final_url=url,
        http_status=200,
        content_type="text/html",
        body=html.encode(),
    )


def _children() -> int:
    return len(psutil.Process().children(recursive=True))


def test_worker_count_defaults_to_one_per_core():
    assert worker_count(3) == 3
    assert worker_count(0) >= 1


def test_a_pool_that_gets_no_work_starts_no_process():
    before = _children()
    with cpu_pool(2) as pool:
        assert not pool.started
        assert _children() == before
    assert not pool.started


def test_pages_come_back_extracted_and_enriched_in_order():
    pages = [_page(n) for n in range(12)]  # more than two chunks, so both workers take part
    with cpu_pool(2) as pool:
        pool.warm()
        assert pool.started
        articles = process_in_pool(pool, pages)
    assert [a.url for a in articles] == [p.entry.url for p in pages]
    assert all(a.extraction_status == "ok" for a in articles)
    assert articles[3].title == "Council story number 3"
    assert articles[3].language == "en"
    assert articles[3].word_count and articles[3].word_count > 20
    # Raw HTML comes back compressed only (the flow's process keeps no second uncompressed copy).
    assert articles[3].raw_html is None
    assert decompress_html(articles[3].raw_html_zlib or b"", COMPRESSION) == pages[3].body


class _BrokenPool(Executor):
    """An executor whose worker died: every job fails the way a killed process pool fails."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        from concurrent.futures.process import BrokenProcessPool

        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a worker died"))
        return future


def test_a_broken_pool_finishes_the_batch_in_this_process():
    articles = process_in_pool(_BrokenPool(), [_page(1), _page(2)])
    assert [a.title for a in articles] == ["Council story number 1", "Council story number 2"]


def test_lazy_pool_runs_plain_functions():
    pool = LazyProcessPool(1)
    try:
        assert pool.submit(pow, 2, 10).result(timeout=120) == 1024
    finally:
        pool.shutdown()


def test_shutdown_without_start_is_harmless():
    LazyProcessPool(2).shutdown()


def test_workers_run_at_a_lower_priority_than_the_flow():
    import os

    from tasks.cpu import WORKER_NICENESS
    from tasks.pools import cpu_pool

    with cpu_pool(1) as pool:
        worker = pool.submit(os.nice, 0).result()
    assert worker == min(19, os.nice(0) + WORKER_NICENESS)


def _in_a_thread(fn):
    import threading

    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(_outcome(fn)))
    thread.start()
    thread.join(timeout=60)
    return outcome[0]


def _outcome(fn):
    try:
        return fn()
    except Exception as exc:
        return exc


def test_the_page_time_limit_holds_outside_the_main_thread_too():
    # A Dask worker runs its jobs in threads, where SIGALRM cannot reach.
    import time

    from tasks.cpu import PageTimeoutError, time_limit

    def endless() -> str:
        with time_limit(0.2):
            end = time.monotonic() + 20  # bounded, so that a missing limit fails the test, not hangs it
            while time.monotonic() < end:
                time.sleep(0.01)
        return "no limit"

    started = time.monotonic()
    error = _in_a_thread(endless)
    assert isinstance(error, PageTimeoutError) and "longer than" in str(error)
    assert time.monotonic() - started < 10

    def in_time() -> str:
        with time_limit(0.2):
            pass
        time.sleep(0.5)  # past the budget: nothing may surface after the block ended
        return "done"

    assert _in_a_thread(in_time) == "done"


def test_a_slow_page_in_a_thread_is_stored_as_an_error(monkeypatch):
    import time

    import tasks.cpu
    import tasks.extract

    monkeypatch.setattr(tasks.cpu, "PAGE_SECONDS", 0.2)
    original = tasks.extract.extract_article

    def slow(page):
        end = time.monotonic() + 5
        while time.monotonic() < end:  # Python work: a single long call into C would finish first
            pass
        return original(page)

    monkeypatch.setattr(tasks.extract, "extract_article", slow)
    started = time.monotonic()
    article = _in_a_thread(lambda: tasks.cpu.process_page(_page(1)))
    assert article.extraction_status == "error" and "PageTimeoutError" in article.extraction_error
    assert time.monotonic() - started < 4
