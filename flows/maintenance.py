"""The maintenance flow: check data files and the search index, export Parquet, compact and clean the lake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from core.settings import load_settings, prepare_process
from pipeline.load import prepare_warehouse
from pipeline.maintenance import (
    check_data_files,
    check_search_index,
    expire_raw_html_task,
    export_parquet_task,
    lake_upkeep,
)
from warehouse.connection import run_scope_for

# A deployment loads this file by path, past flows/__init__.py: the run's process defaults here too.
prepare_process()


@flow(name="maintenance", log_prints=False)
def maintenance(
    warehouse: str | None = None,
    export_dir: str | None = "exports",
    keep_snapshots_days: float = 7.0,
    file_grace_minutes: float = 60.0,
    orphan_grace_hours: float | None = None,
    decode_data_files: bool = False,
    raw_html_days: int | None = None,
) -> dict[str, Any]:
    """Daily upkeep: data file and search index checks, Parquet export (when set), raw HTML retention, compaction.

    A damaged data file fails the run before anything reads or rewrites the lake, naming the file.

    Args:
        warehouse: The warehouse (default: settings).
        export_dir: Folder for the Parquet export; None or "" skips the export.
        keep_snapshots_days: Time travel reaches this far back after the run.
        file_grace_minutes: Unneeded Parquet files stay this long for queries still reading them.
        orphan_grace_hours: Parquet files no commit references stay this long (default: the
            ``orphan_grace_hours`` setting, 24).
        decode_data_files: Decode every page of every data file, not only its footer (reads the lake).
        raw_html_days: Delete the raw HTML of pages fetched more than this many days ago (default: the
            ``raw_html_days`` setting; unset keeps it always).

    Returns:
        What was done: documents in the search index, rows exported, Parquet files before and after.
    """
    logger = get_run_logger()
    settings = load_settings(warehouse_path=warehouse, raw_html_days=raw_html_days)
    path = settings.warehouse_path
    # Exclusive even on a shared lake: compaction and expiry must not race another writer's merge.
    with run_scope_for(settings, logger.warning, hold=False, exclusive=True):
        prepare_warehouse(path)
        checked = check_data_files(path, decode_data_files)
        index = check_search_index(path)
        exported = export_parquet_task(path, Path(export_dir)) if export_dir else None
        # Before the upkeep, whose rewrite and file cleanup give the deleted rows' bytes back.
        days = settings.raw_html_days
        removed = expire_raw_html_task(path, days) if days is not None else 0
        grace = settings.orphan_grace_hours if orphan_grace_hours is None else orphan_grace_hours
        upkeep = lake_upkeep(path, keep_snapshots_days, file_grace_minutes, grace)
    if days is None:
        logger.info("raw HTML: kept always (no raw_html_days setting)")
    else:
        logger.info(
            "raw HTML: %d pages fetched more than %d days ago removed (raw_html_days); %d raw_pages files"
            " rewritten without deleted rows",
            removed,
            days,
            upkeep.rewritten,
        )
    logger.info(
        "lake files %d -> %d (%d checked, %d written from rows the catalog held, %d merged away, "
        "%d snapshots expired, %d files deleted, %d orphans deleted)",
        upkeep.files_before,
        upkeep.files_after,
        checked,
        upkeep.flushed,
        upkeep.merged,
        upkeep.snapshots_expired,
        upkeep.files_deleted,
        upkeep.orphans_deleted,
    )
    return {
        "indexed": index.rows,
        "index_seconds": round(index.seconds, 2),
        "exported_articles": exported.articles if exported else 0,
        "files_before": upkeep.files_before,
        "files_after": upkeep.files_after,
        "snapshots_expired": upkeep.snapshots_expired,
        "files_checked": checked,
        "orphans_deleted": upkeep.orphans_deleted,
        "raw_html_removed": removed,
    }
