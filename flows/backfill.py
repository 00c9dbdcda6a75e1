"""The backfill flow: WARC/ARC archive files -> HTML responses -> articles -> enrichment -> the warehouse."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from core.records import ArchiveLoad, BackfillSummary
from core.settings import load_settings, prepare_process
from pipeline.backfill import Filters, backfill_file, loaded_archives
from pipeline.batch import merge_pending
from pipeline.load import parse_when, prepare_warehouse
from tasks.pools import cpu_pool
from tasks.warc import expand_sources, split_list
from warehouse.connection import is_shared, run_scope_for

# A deployment loads this file by path, past flows/__init__.py: the run's process defaults here too.
prepare_process()


@flow(name="backfill", log_prints=False)
def backfill(
    sources: list[str],
    warehouse: str | None = None,
    host: str | None = None,
    lang: str | None = None,
    since: str | None = None,
    until: str | None = None,
    batch_size: int | None = None,
) -> BackfillSummary:
    """Load the HTML pages of archive files (one task per file); files loaded before are skipped.

    Args:
        sources: Local paths or globs, http(s) URLs, s3:// URLs (or globs) of WARC/ARC files.
        warehouse: The warehouse (default: settings).
        host: Only these hosts: a comma list of names (with their subdomains) or globs.
        lang: Only these body languages (comma list of ISO 639-1 codes).
        since: Only pages published at or after this ISO date/time (else captured then).
        until: Only pages published before this ISO date/time.
        batch_size: Records per batch (default: settings).

    Returns:
        What was done with each file.
    """
    started = time.monotonic()
    logger = get_run_logger()
    settings = load_settings(warehouse_path=warehouse, batch_size=batch_size)
    path = settings.warehouse_path
    filters = Filters(split_list(host), split_list(lang), parse_when(since), parse_when(until))
    files = expand_sources(sources)
    loads: list[ArchiveLoad] = []
    run_id = str(flow_run.id) if flow_run.id else None
    with run_scope_for(settings, logger.warning, run_id=run_id) as scope:
        prepare_warehouse(path)
        loaded = loaded_archives(path, filters)
        logger.info("backfilling %d archive files into %s", len(files), path)
        with cpu_pool(settings.cpu_workers, settings.dask_address) as pool:
            for number, source in enumerate(files, start=1):
                if source in loaded:
                    logger.info("%s was loaded before: skipped", source)
                    loads.append(ArchiveLoad(source=source, already_loaded=True))
                    continue
                load = backfill_file(source, pool, path, filters, settings.batch_size, scope.run_id, number)
                loads.append(load)
            if is_shared(path):  # what is still staged is merged before the run ends
                merge_pending(path, settings.lock_timeout, scope.run_id)
    return BackfillSummary(
        run_id=scope.run_id, warehouse=str(path), files=tuple(loads), seconds=time.monotonic() - started
    )
