"""The ingest flow: feeds -> new entries -> pages -> articles -> enrichment -> the DuckLake warehouse."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from prefect import State, flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from core.records import FeedEntry, FeedResult, FeedSource, IngestSummary
from core.settings import Settings, load_settings, prepare_process
from pipeline.batch import ingest_batch, merge_pending
from pipeline.load import (
    batched,
    demo_newsroom_port,
    fetches_kept_on_interrupt,
    import_feeds,
    list_feeds,
    new_entries_of,
    parse_shard,
    prepare_warehouse,
    record_fetches,
)
from pipeline.report import publish_report, summarize, summary_line
from pipeline.revisions import plan_rechecks, recheck_batch
from pipeline.schedule import MAX_BATCHES_IN_FLIGHT, IngestScheduler
from tasks.feeds import (
    failed_feed_result,
    feed_result_of,
    fetch_feed,
    no_feed_fetched_message,
    quiet_exhausted_fetches,
    read_feed_list,
    state_exception,
)
from tasks.http import HttpClient
from tasks.pools import cpu_pool
from warehouse.connection import is_shared, run_scope_for

# A deployment loads this file by path, past flows/__init__.py: the run's process defaults here too.
prepare_process()

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
        A Completed state holding the run summary (its message the one-line summary); a Failed
            state when no feed at all could be fetched.
    """
    started = time.monotonic()
    logger = get_run_logger()
    settings = load_settings(warehouse_path=warehouse, batch_size=batch_size)
    part = parse_shard(shard)
    run_id = str(flow_run.id) if flow_run.id else None
    with run_scope_for(settings, logger.warning, run_id=run_id) as scope:
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
    run_started = datetime.now(UTC)
    quiet_exhausted_fetches()
    prepare_warehouse(path)
    # The batches' own threads, apart from the feed fetches' (the flow's runner): a batch never waits
    # for a feed thread, nor a feed for a batch. Entered first, so it is left last, as the flow's own
    # runner was: on Ctrl-C the worker pool stops first and running batches end at once.
    batch_threads: Any = ThreadPoolTaskRunner(max_workers=MAX_BATCHES_IN_FLIGHT)  # Any: see FEED_THREADS
    with (
        batch_threads as batch_runner,
        HttpClient(settings, demo_newsroom_port(path, settings.demo_port)) as client,
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

        def submit_batch(entries: list[FeedEntry], number: int) -> PrefectFuture[Any]:
            params = {
                "client": client,
                "pool": pool,
                "path": path,
                "entries": entries,
                "settings": settings,
                "run_id": run_id,
                "batch_no": number,
            }
            future: PrefectFuture[Any] = batch_runner.submit(ingest_batch, params)
            return future

        scheduler = IngestScheduler(
            feed_list,
            fetch=lambda feed: fetch.submit(client, feed, settings),
            feed_result=_feed_result,
            select=lambda arrived, taken: new_entries_of(path, arrived, settings.max_new_per_feed, taken),
            submit=submit_batch,
            batch_size=settings.batch_size,
            planned=settled.results,  # a prefix of it is stored at any time (see fetches_kept_on_interrupt)
            on_first_entries=pool.warm,  # workers import while the first batch downloads
            report=lambda progress: logger.info(progress.line(), extra=progress.as_extra()),
        )
        settled.progress = scheduler.progress
        scheduler.run()
        # Re-checks of stored articles after the new ones, so those always come first; in their own
        # batch tasks, within the run's budget. Nothing due: no request.
        new_count = sum(len(result.entries) for result in scheduler.planned)
        rechecks = plan_rechecks(path, settings, new_count, run_started, shard)
        recheck_futures = [
            batch_runner.submit(
                recheck_batch,
                {
                    "client": client,
                    "pool": pool,
                    "path": path,
                    "rechecks": group,
                    "settings": settings,
                    "run_id": run_id,
                    "batch_no": number,
                },
            )
            for number, group in enumerate(batched(rechecks, settings.batch_size), start=1)
        ]
        recheck_counts = [future.result() for future in recheck_futures]
        if is_shared(path):  # what is still staged is merged before the run ends
            merge_pending(path, settings.lock_timeout, run_id)
        started_articles = scheduler.articles_started
        articles_seconds = time.monotonic() - started_articles if started_articles is not None else 0.0

    fetches = [result.fetch for result in scheduler.planned]
    record_fetches(path, fetches, run_id)
    summary = summarize(
        fetches,
        scheduler.status_counts,
        run_id=run_id,
        warehouse=str(path),
        seconds=time.monotonic() - started,
        phase_seconds={"feeds": scheduler.feeds_seconds, "articles": articles_seconds},
        recheck_counts=recheck_counts,
    )
    publish_report(summary, fetches, path)
    if fetches and summary.feeds_failed == summary.feeds:
        # A Failed state, not an exception: the run fails with one clear message and no traceback.
        return Failed(message=no_feed_fetched_message(fetches))
    # The one-line summary as the state's message: the run's page in the UI shows it beside its state.
    return Completed(message=summary_line(summary), data=summary)


def _feed_result(feed: FeedSource, future: PrefectFuture[Any]) -> FeedResult:
    """A feed task's result; when its retries are exhausted, the failure recorded (the run goes on)."""
    future.wait()  # returns at once (the task is done); keeps the final state, so none is asked for
    result = feed_result_of(future.state)  # a fetch that failed is a Failed task holding its record
    if result is not None:
        return result
    return failed_feed_result(
        feed, state_exception(future.state) or RuntimeError("task failed"), datetime.now(UTC)
    )
