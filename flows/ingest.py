"""The ingest flow: feeds -> new entries -> pages -> articles -> enrichment -> DuckDB."""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from prefect import State, flow, get_run_logger, unmapped
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.batch import ingest_batch, merge_pending
from tasks.cpu import cpu_pool
from tasks.feeds import (
    failed_feed_result,
    fetch_feed,
    fetches_kept_on_interrupt,
    no_feed_fetched_message,
    read_feed_list,
    state_exception,
)
from tasks.http import HttpClient
from tasks.load import (
    batched,
    import_feeds,
    list_feeds,
    parse_shard,
    prepare_warehouse,
    record_fetches,
    select_new_entries,
)
from tasks.records import FeedResult, IngestSummary
from tasks.report import Progress, publish_report, summarize
from tasks.settings import Settings, load_settings
from warehouse.connection import is_shared, run_scope

# Batches in flight at once: enough that one batch downloads while others keep both cores busy,
# few enough that memory stays flat however many articles a run has.
MAX_BATCHES_IN_FLIGHT = 4


# Feed fetches are I/O: 16 threads keep many hosts busy at once (per-host politeness is in tasks/http.py).
# Typed Any: Prefect's TaskRunner generic is invariant, so its own runner does not match its own hint.
FEED_THREADS: Any = ThreadPoolTaskRunner(max_workers=16)


@flow(name="ingest", log_prints=False, task_runner=FEED_THREADS)
def ingest(
    feeds: str | None = None,
    warehouse: str | None = None,
    batch_size: int | None = None,
    shard: str | None = None,
) -> IngestSummary | State[Any]:
    """Fetch feeds, extract and enrich their new articles, and load them into the warehouse.

    Args:
        feeds: A feed list (OPML/TOML path or URL) to import first; None ingests every stored feed.
        warehouse: The warehouse (default: settings, ``warehouse/news.sqlite``).
        batch_size: Articles per batch (default: settings).
        shard: ``I/N``: take only the feeds of part I of N (a stable hash of the feed URL), so that N
            workers share the feeds of one lake; None takes every feed.

    Returns:
        The run summary; a Failed state when no feed at all could be fetched.
    """
    started = time.monotonic()
    logger = get_run_logger()
    settings = load_settings(warehouse_path=warehouse, batch_size=batch_size)
    part = parse_shard(shard)
    path = settings.warehouse_path
    run_id = str(flow_run.id) if flow_run.id else None
    with run_scope(
        path,
        timeout=settings.lock_timeout,
        on_wait=logger.warning,
        run_id=run_id,
        hold=True,
        memory_mb=settings.warehouse_memory_mb,
    ) as scope:
        return _ingest(feeds, settings, scope.run_id, started, part)


def _ingest(
    feeds: str | None,
    settings: Settings,
    run_id: str | None,
    started: float,
    shard: tuple[int, int] | None = None,
) -> IngestSummary | State[Any]:
    """The body of the ingest flow, run while the warehouse's run lock is held."""
    logger = get_run_logger()
    path = settings.warehouse_path
    prepare_warehouse(path)
    with (
        HttpClient(settings) as client,
        cpu_pool(settings.cpu_workers, settings.dask_address) as pool,
        fetches_kept_on_interrupt(path, run_id) as settled,
    ):
        listed: list[str] | None = None
        if feeds:
            imported = read_feed_list(feeds, client, settings)
            import_feeds(path, imported, feeds)
            listed = [feed.url for feed in imported]
        feed_list = list_feeds(path, listed, shard)
        logger.info(
            "ingesting %d feeds into %s%s",
            len(feed_list),
            path,
            f" (shard {shard[0]}/{shard[1]})" if shard else "",
        )

        fetch = fetch_feed.with_options(
            retries=settings.feed_retries, retry_delay_seconds=settings.retry_delay
        )
        feeds_started = time.monotonic()
        futures = fetch.map(unmapped(client), feed_list, unmapped(settings))
        progress = Progress(feeds_total=len(feed_list))
        results: list[FeedResult] = []
        settled.results, settled.progress = results, progress
        for feed, future in zip(feed_list, futures, strict=True):
            future.wait()
            if future.state.is_completed():
                results.append(future.result())
            else:  # retries exhausted: the failure is recorded, the run goes on
                results.append(
                    failed_feed_result(
                        feed,
                        state_exception(future.state) or RuntimeError("task failed"),
                        datetime.now(UTC),
                    )
                )
            progress.feeds_done += 1
            _report(logger, progress)

        feeds_seconds = time.monotonic() - feeds_started
        planned = select_new_entries(path, results, settings.max_new_per_feed)
        settled.results = planned
        articles_started = time.monotonic()
        entries = [entry for result in planned for entry in result.entries]
        progress.articles_total = len(entries)
        if entries:
            pool.warm()  # workers import while the first batch downloads; a run with nothing new starts none
        status_counts: list[dict[str, int]] = []
        in_flight: deque[PrefectFuture[Any]] = deque()

        def collect(future: PrefectFuture[Any]) -> None:
            counts: dict[str, int] = future.result()
            status_counts.append(counts)
            progress.articles_done += sum(counts.values())
            _report(logger, progress)

        for number, batch in enumerate(batched(entries, settings.batch_size), start=1):
            in_flight.append(ingest_batch.submit(client, pool, path, batch, settings, run_id, number))
            if len(in_flight) >= MAX_BATCHES_IN_FLIGHT:
                collect(in_flight.popleft())
        for future in in_flight:
            collect(future)
        if is_shared(path):  # what is still staged is merged before the run ends
            merge_pending(path, settings.lock_timeout, run_id)
        articles_seconds = time.monotonic() - articles_started

    fetches = [result.fetch for result in planned]
    record_fetches(path, fetches, run_id)
    summary = summarize(
        fetches,
        status_counts,
        run_id=run_id,
        warehouse=str(path),
        seconds=time.monotonic() - started,
        phase_seconds={"feeds": feeds_seconds, "articles": articles_seconds},
    )
    publish_report(summary, fetches, path)
    if fetches and summary.feeds_failed == summary.feeds:
        # A Failed state, not an exception: the run fails with one clear message and no traceback.
        return Failed(message=no_feed_fetched_message(fetches))
    return summary


def _report(logger: Any, progress: Progress) -> None:
    if progress.due(time.monotonic()):
        logger.info(progress.line(), extra=progress.as_extra())
