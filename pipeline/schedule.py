"""The ingest scheduler: feed fetches in, batches out, collected in start order; no Prefect in it."""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from core.records import FeedEntry, FeedResult, FeedSource

# Batches in flight at once: enough that one batch downloads while others keep both cores busy,
# few enough that memory stays flat however many articles a run has.
MAX_BATCHES_IN_FLIGHT = 4

# Batches in flight below which a partial batch goes at once: one extracting while the next downloads
# keeps both cores busy; with fewer the pool would idle while the rest of a batch waits for a slow feed.
KEEP_BUSY = 2

T_co = TypeVar("T_co", covariant=True)


class Pending(Protocol[T_co]):
    """A task started elsewhere: a Prefect future, or a ``concurrent.futures.Future`` in tests."""

    def result(self) -> T_co:
        """The task's result, or its exception raised."""
        ...

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn`` with this future once the task is done."""
        ...


FeedFuture = TypeVar("FeedFuture", bound=Pending[Any])
BatchCounts = dict[str, int]


class BatchQueue:
    """New entries waiting for a batch, and the rule for when the next batch starts.

    A batch takes ``size`` entries, from as many feeds as it takes to fill it; a partial batch goes only
    when nothing more is coming or too few batches are in flight to keep the worker pool busy, so a
    slow feed never holds back the entries that arrived before it.
    """

    def __init__(self, size: int, max_in_flight: int) -> None:
        """Start empty.

        Args:
            size: Entries per full batch.
            max_in_flight: Batches in flight at most (memory stays flat however many entries wait).
        """
        self.size = max(1, size)
        self.max_in_flight = max_in_flight
        self._entries: deque[FeedEntry] = deque()

    def __len__(self) -> int:
        """Entries waiting."""
        return len(self._entries)

    def add(self, entries: Iterable[FeedEntry]) -> None:
        """Queue entries, in order, behind those already waiting."""
        self._entries.extend(entries)

    def take(self, in_flight: int, more_coming: bool) -> list[FeedEntry] | None:
        """The next batch to start now, if one should start.

        Args:
            in_flight: Batches started and not yet finished.
            more_coming: Whether more entries may still arrive (feeds still fetching or unselected).

        Returns:
            Up to ``size`` entries, oldest first; None when no batch should start now.
        """
        if not self._entries or in_flight >= self.max_in_flight:
            return None
        if len(self._entries) < self.size and more_coming and in_flight >= KEEP_BUSY:
            return None  # the pool has work: wait for more entries to fill this batch
        count = min(self.size, len(self._entries))
        return [self._entries.popleft() for _ in range(count)]


@dataclass
class Progress:
    """How far a run is, reported as log lines (plain) and drawn as a bar by the CLI on a terminal.

    Lines are throttled to one every ``every`` seconds (plus the last), so a run over thousands of
    feeds does not print thousands of progress lines.
    """

    feeds_total: int = 0
    feeds_done: int = 0
    articles_total: int = 0
    articles_done: int = 0
    every: float = 2.0
    _last: float = field(default=0.0, repr=False)

    def due(self, now: float) -> bool:
        """Tell whether a line should be written now (and remember it was)."""
        finished = self.feeds_done >= self.feeds_total and self.articles_done >= self.articles_total
        if finished or now - self._last >= self.every:
            self._last = now
            return True
        return False

    def line(self) -> str:
        """The plain progress line."""
        return (
            f"progress: feeds {self.feeds_done}/{self.feeds_total}, "
            f"articles {self.articles_done}/{self.articles_total}"
        )

    def as_extra(self) -> dict[str, tuple[int, int, int, int]]:
        """The numbers for a log record's ``extra``, read by the CLI's progress bar."""
        return {
            "wirehouse_progress": (self.feeds_done, self.feeds_total, self.articles_done, self.articles_total)
        }


class IngestScheduler(Generic[FeedFuture]):
    """Fetch feeds, select their new entries in groups and run them in batches, as tasks finish.

    Every finished task (feed or batch) reports to one queue; the scheduler reacts to whichever
    comes first, so new entries go into batches while other feeds are still being fetched. Batches
    are collected in the order they were started, so the stored entries are always a prefix of
    ``planned`` (what an interrupted run keeps relies on it).
    """

    def __init__(
        self,
        feeds: Sequence[FeedSource],
        *,
        fetch: Callable[[FeedSource], FeedFuture],
        feed_result: Callable[[FeedSource, FeedFuture], FeedResult],
        select: Callable[[list[FeedResult], set[str]], list[FeedResult]],
        submit: Callable[[list[FeedEntry], int], Pending[BatchCounts]],
        batch_size: int,
        max_in_flight: int = MAX_BATCHES_IN_FLIGHT,
        planned: list[FeedResult] | None = None,
        on_first_entries: Callable[[], None] = lambda: None,
        report: Callable[[Progress], None] = lambda progress: None,
    ) -> None:
        """Set up a run; nothing starts before :meth:`run`.

        Args:
            feeds: The feeds to fetch.
            fetch: Start one feed's fetch.
            feed_result: A finished fetch's result (a failed fetch's recorded failure included).
            select: The new entries of a group of fetched feeds, given the URLs taken from earlier
                groups (which it updates).
            submit: Start one batch of entries (numbered from 1); its result counts articles by status.
            batch_size: Entries per full batch.
            max_in_flight: Batches in flight at most.
            planned: Where the selected results go, in the order their entries are batched (default:
                a new list).
            on_first_entries: Called once, when the first new entries are selected.
            report: Called with the progress, at most every ``progress.every`` seconds (and at the end).
        """
        self.feeds = list(feeds)
        self._fetch = fetch
        self._feed_result = feed_result
        self._select = select
        self._submit = submit
        self._on_first_entries = on_first_entries
        self._report = report
        self.planned: list[FeedResult] = [] if planned is None else planned
        self.progress = Progress(feeds_total=len(self.feeds))
        self.waiting = BatchQueue(batch_size, max_in_flight)
        self.status_counts: list[BatchCounts] = []
        self.feeds_seconds = 0.0
        self.articles_started: float | None = None
        self.batches_started = 0

    def run(self) -> None:
        """Run every feed and batch to the end; a batch that raises ends the run with its error."""
        done: queue.SimpleQueue[tuple[FeedSource | None, Any]] = queue.SimpleQueue()
        feeds_started = time.monotonic()
        for source in self.feeds:
            self._fetch(source).add_done_callback(partial(_put, done, source))
        taken: set[str] = set()
        arrived: list[FeedResult] = []
        batches: deque[Pending[BatchCounts]] = deque()
        finished: set[Any] = set()
        feeds_left = len(self.feeds)
        waiting = self.waiting
        while feeds_left or arrived or len(waiting) or batches:
            feed, future = done.get()
            while True:  # everything that finished meanwhile, so selection takes arrivals in groups
                if feed is not None:
                    arrived.append(self._feed_result(feed, future))
                    feeds_left -= 1
                    self.progress.feeds_done += 1
                    if not feeds_left:
                        self.feeds_seconds = time.monotonic() - feeds_started
                else:
                    finished.add(future)
                try:
                    feed, future = done.get_nowait()
                except queue.Empty:
                    break
            while batches and batches[0] in finished:  # in start order: stored entries stay a prefix
                head = batches.popleft()
                finished.discard(head)
                counts = head.result()
                self.status_counts.append(counts)
                self.progress.articles_done += sum(counts.values())
            # Select when the queue runs short (one warehouse query per group, not per feed or entry).
            if arrived and (len(waiting) < waiting.size or not feeds_left):
                selected = self._select(arrived, taken)
                arrived = []
                self.planned.extend(selected)
                entries = [entry for result in selected for entry in result.entries]
                if entries and self.articles_started is None:
                    self.articles_started = time.monotonic()
                    self._on_first_entries()  # a run with nothing new starts no workers
                self.progress.articles_total += len(entries)
                waiting.add(entries)
            more_coming = bool(feeds_left or arrived)
            while (batch := waiting.take(len(batches) - len(finished), more_coming)) is not None:
                self.batches_started += 1
                started = self._submit(batch, self.batches_started)
                started.add_done_callback(partial(_put, done, None))
                batches.append(started)
            if self.progress.due(time.monotonic()):
                self._report(self.progress)


def _put(
    done: queue.SimpleQueue[tuple[FeedSource | None, Any]], feed: FeedSource | None, future: Any
) -> None:
    done.put((feed, future))
