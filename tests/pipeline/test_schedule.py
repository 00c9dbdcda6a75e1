"""The ingest scheduler with plain futures: no Prefect, no server, no warehouse."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from core.records import FeedEntry, FeedFetch, FeedResult, FeedSource
from pipeline.schedule import IngestScheduler, Progress

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def feed_result(url: str, entries: int) -> FeedResult:
    fetch = FeedFetch(feed_url=url, started_at=NOW, finished_at=NOW, entries_seen=entries)
    items = tuple(FeedEntry(feed_url=url, url=f"{url}/{n}", link=f"{url}/{n}") for n in range(entries))
    return FeedResult(fetch=fetch, entries=items)


def result_or_failure(feed: FeedSource, future: Future[FeedResult]) -> FeedResult:
    """As the flow does: a fetch that raised is recorded as a failure, and the run goes on."""
    try:
        return future.result()
    except Exception as exc:
        fetch = FeedFetch(feed_url=feed.url, started_at=NOW, finished_at=NOW, error=str(exc))
        return FeedResult(fetch=fetch)


class Batch(Future[dict[str, int]]):
    """A batch's future that notes when the scheduler collects it."""

    def __init__(self, number: int, entries: list[FeedEntry], collected: list[int]) -> None:
        super().__init__()
        self.number = number
        self.entries = entries
        self._collected = collected

    def result(self, timeout: float | None = None) -> dict[str, int]:
        self._collected.append(self.number)
        return super().result(timeout)


class Run:
    """One scheduler over feeds with ``entries[url]`` entries each, and what it did.

    Feeds finish at once unless ``hold_feeds``; batches finish at once unless ``hold_batches``
    (then the test finishes them with :meth:`finish_batch`).
    """

    def __init__(
        self,
        entries: dict[str, int],
        *,
        batch_size: int = 2,
        max_in_flight: int = 4,
        hold_feeds: bool = False,
        hold_batches: bool = False,
        failing: frozenset[str] = frozenset(),
        batch_error: Exception | None = None,
    ) -> None:
        self.entries = entries
        self.hold_feeds = hold_feeds
        self.hold_batches = hold_batches
        self.failing = failing
        self.batch_error = batch_error
        self.feeds: dict[str, Future[FeedResult]] = {}
        self.batches: list[Batch] = []
        self.groups: list[list[str]] = []
        self.collected: list[int] = []
        self.warmed = 0
        self.reports: list[tuple[int, int, int, int]] = []
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()
        self.planned: list[FeedResult] = []
        self.scheduler = IngestScheduler(
            [FeedSource(url) for url in entries],
            fetch=self.fetch,
            feed_result=result_or_failure,
            select=self.select,
            submit=self.submit,
            batch_size=batch_size,
            max_in_flight=max_in_flight,
            planned=self.planned,
            on_first_entries=self.warm,
            report=self.report,
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.scheduler.run()
        except BaseException as exc:
            self.error = exc

    def start(self) -> Run:
        self.thread.start()
        return self

    def join(self) -> Run:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the scheduler did not finish"
        return self

    def fetch(self, feed: FeedSource) -> Future[FeedResult]:
        future: Future[FeedResult] = Future()
        self.feeds[feed.url] = future
        if not self.hold_feeds:
            self.finish_feed(feed.url)
        return future

    def finish_feed(self, url: str) -> None:
        if url in self.failing:
            self.feeds[url].set_exception(RuntimeError(f"{url} is down"))
        else:
            self.feeds[url].set_result(feed_result(url, self.entries[url]))

    def select(self, arrived: list[FeedResult], taken: set[str]) -> list[FeedResult]:
        self.groups.append([result.fetch.feed_url for result in arrived])
        for result in arrived:
            taken.update(entry.url for entry in result.entries)
        return arrived

    def submit(self, entries: list[FeedEntry], number: int) -> Batch:
        batch = Batch(number, entries, self.collected)
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.batches.append(batch)
        if not self.hold_batches:
            self.finish_batch(number)
        return batch

    def finish_batch(self, number: int) -> None:
        batch = self.batches[number - 1]
        with self.lock:
            self.running -= 1
        if self.batch_error is not None:
            batch.set_exception(self.batch_error)
        else:
            batch.set_result({"ok": len(batch.entries)})

    def warm(self) -> None:
        self.warmed += 1

    def report(self, progress: Progress) -> None:
        self.reports.append(
            (progress.feeds_done, progress.feeds_total, progress.articles_done, progress.articles_total)
        )


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def planned_entries(run: Run) -> list[FeedEntry]:
    return [entry for result in run.planned for entry in result.entries]


def test_every_entry_goes_into_a_batch_in_planned_order() -> None:
    run = Run({"a": 3, "b": 2}, batch_size=2).start().join()
    assert run.error is None
    batched = [entry for batch in run.batches for entry in batch.entries]
    assert batched == planned_entries(run)
    assert [len(batch.entries) for batch in run.batches] == [2, 2, 1]
    assert run.scheduler.status_counts == [{"ok": 2}, {"ok": 2}, {"ok": 1}]
    assert run.scheduler.progress.articles_done == run.scheduler.progress.articles_total == 5


def test_batches_are_collected_in_start_order_when_they_finish_out_of_order() -> None:
    run = Run({"a": 6}, batch_size=2, hold_batches=True).start()
    wait_until(lambda: len(run.batches) == 3)
    run.finish_batch(3)
    run.finish_batch(2)
    time.sleep(0.05)  # time enough to collect, had the scheduler not waited for the first
    assert run.collected == []
    assert run.scheduler.progress.articles_done == 0
    run.finish_batch(1)
    run.join()
    assert run.collected == [1, 2, 3]


def test_stored_entries_are_always_a_prefix_of_the_planned_ones() -> None:
    run = Run({"a": 3, "b": 4, "c": 2}, batch_size=2, hold_batches=True).start()
    seen: list[tuple[int, int]] = []
    for number in (2, 1, 4, 3, 5):
        wait_until(lambda n=number: len(run.batches) >= n)
        run.finish_batch(number)
        time.sleep(0.01)
        seen.append((run.scheduler.progress.articles_done, len(run.collected)))
    run.join()
    for done, collected in seen:  # what was stored so far is the first batches, entry for entry
        first = [entry for batch in run.batches[:collected] for entry in batch.entries]
        assert first == planned_entries(run)[: len(first)]
        assert done <= len(first)
    assert run.collected == [1, 2, 3, 4, 5]


def test_feeds_that_arrive_together_are_selected_as_one_group() -> None:
    run = Run({"a": 1, "b": 1, "c": 1}).start().join()
    assert run.groups == [["a", "b", "c"]]


def test_selection_waits_while_the_queue_is_full_and_takes_the_rest_when_feeds_are_done() -> None:
    run = Run({"a": 6, "b": 1, "c": 1}, batch_size=2, max_in_flight=1, hold_feeds=True, hold_batches=True)
    run.start()
    wait_until(lambda: len(run.feeds) == 3)
    run.finish_feed("a")
    wait_until(lambda: len(run.batches) == 1)  # a's first two entries; four wait, a full batch and more
    run.finish_feed("b")
    wait_until(lambda: run.scheduler.progress.feeds_done == 2)
    assert run.groups == [["a"]]  # the queue is not short: b waits
    run.finish_feed("c")
    wait_until(lambda: len(run.groups) == 2)
    assert run.groups == [["a"], ["b", "c"]]  # no feed left: selected at once, as one group
    for number in range(1, 5):
        wait_until(lambda n=number: len(run.batches) >= n)
        run.finish_batch(number)
    run.join()
    assert run.error is None
    assert [entry.feed_url for entry in planned_entries(run)] == ["a"] * 6 + ["b", "c"]


def test_batches_in_flight_never_exceed_the_limit() -> None:
    run = Run({f"f{n}": 5 for n in range(6)}, batch_size=2, max_in_flight=2, hold_batches=True).start()
    finished = 0
    while finished < 15:  # 30 entries in batches of 2
        wait_until(lambda n=finished: len(run.batches) > n)
        time.sleep(0.002)
        assert len(run.batches) - finished <= 2
        finished += 1
        run.finish_batch(finished)
    run.join()
    assert run.most_running <= 2
    assert len(run.batches) == 15


def test_an_empty_feed_list_ends_at_once() -> None:
    run = Run({}).start().join()
    assert run.error is None
    assert run.groups == [] and run.batches == [] and run.planned == []
    assert run.warmed == 0
    assert run.scheduler.status_counts == []


def test_a_failed_feed_is_planned_with_no_entries_and_the_run_goes_on() -> None:
    run = Run({"down": 3, "up": 2}, failing=frozenset({"down"})).start().join()
    assert run.error is None
    failed = [result for result in run.planned if result.fetch.error]
    assert [(r.fetch.feed_url, r.entries) for r in failed] == [("down", ())]
    assert [entry.feed_url for entry in planned_entries(run)] == ["up", "up"]
    assert run.scheduler.progress.feeds_done == 2


def test_a_batch_that_raises_ends_the_run_with_its_error() -> None:
    run = Run({"a": 2}, batch_error=RuntimeError("disk full")).start().join()
    assert isinstance(run.error, RuntimeError)
    assert str(run.error) == "disk full"


def test_workers_are_warmed_once_at_the_first_entries_and_only_when_there_are_some() -> None:
    assert Run({"a": 3, "b": 3}).start().join().warmed == 1
    assert Run({"a": 0, "b": 0}).start().join().warmed == 0


def test_progress_is_reported_and_its_last_line_is_the_end() -> None:
    run = Run({"a": 3, "b": 1}).start().join()
    assert run.reports
    assert run.reports[-1] == (2, 2, 4, 4)


def test_the_planned_list_is_the_one_given() -> None:
    planned: list[FeedResult] = []
    scheduler = IngestScheduler(
        [FeedSource("a")],
        fetch=lambda feed: _done(feed_result(feed.url, 1)),
        feed_result=result_or_failure,
        select=lambda arrived, taken: arrived,
        submit=lambda entries, number: _done({"ok": len(entries)}),
        batch_size=10,
        planned=planned,
    )
    scheduler.run()
    assert scheduler.planned is planned
    assert [r.fetch.feed_url for r in planned] == ["a"]


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future
