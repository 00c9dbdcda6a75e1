"""The reprocess flow: re-extract and re-enrich stored raw HTML with the current code; nothing is fetched."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from core.settings import load_settings, prepare_process
from pipeline.batch import merge_pending, reprocess_batch
from pipeline.load import (
    batched,
    prepare_warehouse,
    removed_raw_html_line,
    select_stored_pages,
)
from pipeline.schedule import MAX_BATCHES_IN_FLIGHT
from tasks.pools import cpu_pool
from warehouse.connection import is_shared, run_scope_for

# A deployment loads this file by path, past flows/__init__.py: the run's process defaults here too.
prepare_process()

# The result's key for the selected pages whose raw HTML the retention setting removed (not a status).
RAW_HTML_REMOVED = "raw_html_removed"


@flow(name="reprocess", log_prints=False)
def reprocess(
    since: str | None = None,
    until: str | None = None,
    feed_url: str | None = None,
    status: str | None = None,
    warehouse: str | None = None,
    batch_size: int | None = None,
) -> dict[str, int]:
    """Re-process stored pages, so that an upgrade improves old articles without fetching anything.

    Args:
        since: Only articles published at or after this ISO date/time.
        until: Only articles published before this ISO date/time.
        feed_url: Only articles of this feed.
        status: Only articles with this extraction_status (e.g. ``no_text``).
        warehouse: The warehouse (default: settings).
        batch_size: Articles per batch (default: settings).

    Returns:
        Articles rewritten, counted by their new extraction_status; under RAW_HTML_REMOVED the selected
        pages whose raw HTML the retention setting removed, under REVISIONS_REEXTRACTED their stored
        versions re-extracted and under REVISIONS_WITHOUT_PAGE those that could not be, because only
        the latest version's page is kept (each when there are any).
    """
    logger = get_run_logger()
    settings = load_settings(warehouse_path=warehouse, batch_size=batch_size)
    path = settings.warehouse_path
    counts: Counter[str] = Counter()
    run_id = str(flow_run.id) if flow_run.id else None
    with run_scope_for(settings, logger.warning, run_id=run_id) as scope:
        run_id = scope.run_id
        prepare_warehouse(path)
        urls, removed = select_stored_pages(path, since, until, feed_url, status, settings.raw_html_days)
        if removed:
            logger.warning("%s", removed_raw_html_line(removed, len(urls), settings.raw_html_days))
        logger.info("re-processing %d stored pages in %s", len(urls), path)
        with cpu_pool(settings.cpu_workers, settings.dask_address) as pool:
            in_flight: deque[PrefectFuture[Any]] = deque()
            for number, batch in enumerate(batched(urls, settings.batch_size), start=1):
                in_flight.append(reprocess_batch.submit(pool, path, batch, run_id, number))
                if len(in_flight) >= MAX_BATCHES_IN_FLIGHT:
                    counts.update(in_flight.popleft().result())
            for future in in_flight:
                counts.update(future.result())
        if is_shared(path):  # what is still staged is merged before the run ends
            merge_pending(path, settings.lock_timeout, run_id)
    result = dict(sorted(counts.items()))
    if removed:
        result[RAW_HTML_REMOVED] = removed
    return result
