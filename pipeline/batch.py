"""Batch: one batch of new entries from page download to the warehouse, as a single task.

Pages, articles and raw HTML stay inside this task: a Prefect flow keeps every task result it has
seen for the whole run, so passing them between tasks would make memory grow with the run's size.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

from core.records import Article, FeedEntry
from core.settings import Settings
from pipeline.revisions import first_rechecks, schedule_first_rechecks
from tasks.cpu import process_in_pool
from tasks.http import HttpClient
from tasks.pages import fetch_pages_now
from warehouse.articles import error_row, store_isolating, stored_pages
from warehouse.connection import (
    WarehouseBusyError,
    WarehouseMemoryError,
    is_shared,
    open_warehouse,
    write_lock,
)
from warehouse.revisions import append_rechecks, refresh_rechecks, refresh_revisions
from warehouse.staging import merge_staged, pending_batches, save_batch

__all__ = ["error_row", "store_isolating"]  # re-exported: the isolating store lives in warehouse/

logger = logging.getLogger(__name__)

# Keys of a reprocess batch's counts beside the extraction statuses: stored versions (revisions)
# rewritten from their kept page, and those that could not be (the lake keeps the latest page only).
REVISIONS_REEXTRACTED = "revisions_reextracted"
REVISIONS_WITHOUT_PAGE = "revisions_without_page"


def run_batch(
    client: HttpClient,
    pool: Executor,
    path: Path,
    entries: list[FeedEntry],
    settings: Settings,
    run_id: str | None,
) -> dict[str, int]:
    """Fetch, extract, enrich and store one batch of entries.

    Args:
        client: The shared HTTP client.
        pool: The run's worker processes for extraction and enrichment.
        path: The warehouse.
        entries: The batch.
        settings: Run settings.
        run_id: The ingest run.

    Returns:
        Articles stored, counted by ``extraction_status``.
    """
    pages = fetch_pages_now(client, entries, settings)
    articles = process_in_pool(pool, pages)
    shared = is_shared(path)

    def first_rechecks_of(con: Any, kept: Sequence[Article]) -> None:
        append_rechecks(con, first_rechecks(pages, kept, settings.recheck_after))

    try:
        # On an embedded lake the first re-checks go into the store's own transaction: one commit a
        # batch, and no article stored without them; a shared lake's batch is staged, so appended after.
        articles = save_batch(path, articles, run_id, with_kept=None if shared else first_rechecks_of)
    except WarehouseMemoryError as exc:
        # An embedded lake's transaction rolled back: nothing of the batch is stored, and the next
        # run takes it again. (A shared lake's batch was staged; its merge reports its own errors.)
        raise WarehouseMemoryError(
            f"the warehouse needed more than WIREHOUSE_WAREHOUSE_MEMORY_MB={settings.warehouse_memory_mb} "
            f"MiB; raise it (0: DuckDB's default): {exc}"
        ) from exc
    if shared:
        schedule_first_rechecks(path, pages, articles, settings)
    return dict(Counter(article.extraction_status for article in articles))


@task(
    name="ingest-batch",
    task_run_name="ingest-batch {batch_no}",
    cache_policy=NO_CACHE,
)
def ingest_batch(
    client: HttpClient,
    pool: Executor,
    path: Path,
    entries: list[FeedEntry],
    settings: Settings,
    run_id: str | None,
    batch_no: int,
) -> dict[str, int]:
    """One batch from page download to the warehouse (per-page failures are recorded, not raised).

    Args:
        client: The shared HTTP client.
        pool: The run's worker processes.
        path: The warehouse.
        entries: The batch.
        settings: Run settings.
        run_id: The ingest run.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        Articles stored, counted by ``extraction_status``.
    """
    return run_batch(client, pool, path, entries, settings, run_id)


def reprocess_urls(pool: Executor, path: Path, urls: list[str], run_id: str | None) -> dict[str, int]:
    """Re-extract and re-enrich stored pages with the current code, replacing their rows.

    Args:
        pool: The run's worker processes.
        path: The warehouse.
        urls: Canonical URLs whose raw HTML is stored.
        run_id: The reprocess run.

    Returns:
        Articles rewritten, counted by ``extraction_status``; under :data:`REVISIONS_REEXTRACTED` and
        :data:`REVISIONS_WITHOUT_PAGE` their stored versions rewritten and left as they were (when any).
    """
    with open_warehouse(path) as con:
        pages = stored_pages(con, urls)
    articles = process_in_pool(pool, pages)
    articles = save_batch(path, articles, run_id, replace=True)
    with write_lock(path), open_warehouse(path) as con:
        refresh_rechecks(con, articles)
        rewritten, without_page = refresh_revisions(con, articles)
    counts = Counter(article.extraction_status for article in articles)
    counts.update({REVISIONS_REEXTRACTED: rewritten, REVISIONS_WITHOUT_PAGE: without_page})
    return {name: count for name, count in counts.items() if count}


@task(name="reprocess-batch", task_run_name="reprocess-batch {batch_no}", cache_policy=NO_CACHE)
def reprocess_batch(
    pool: Executor, path: Path, urls: list[str], run_id: str | None, batch_no: int
) -> dict[str, int]:
    """Re-process one batch of stored pages (nothing is fetched).

    Args:
        pool: The run's worker processes.
        path: The warehouse.
        urls: Canonical URLs.
        run_id: The reprocess run.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        As :func:`reprocess_urls`.
    """
    return reprocess_urls(pool, path, urls, run_id)


@task(name="merge-staged", cache_policy=NO_CACHE)
def merge_pending(path: Path, lock_timeout: float, run_id: str | None = None) -> int:
    """Merge the batches still staged (a shared lake), so the run's articles are in the lake when it ends.

    Args:
        path: The warehouse.
        lock_timeout: Seconds to wait for another writer's merge.
        run_id: The run; when the lock stays taken, the run is fine if none of its batches waits.

    Returns:
        Batches merged (0 on an embedded lake, which stores batches directly).

    Raises:
        WarehouseBusyError: The lock stayed taken and some of this run's batches are not merged.
    """
    try:
        return merge_staged(path, wait=True, timeout=lock_timeout).batches
    except WarehouseBusyError:
        with open_warehouse(path) as con:
            waiting = pending_batches(con, run_id) if run_id else 1
        if waiting:
            raise
        # Another writer's merge held the lock all along, and took this run's batches with it.
        get_run_logger().info("another writer merged this run's batches")
        return 0
