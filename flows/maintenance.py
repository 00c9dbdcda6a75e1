"""The maintenance flow: rebuild the search index, export Parquet, checkpoint the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from tasks.load import prepare_warehouse
from tasks.maintenance import checkpoint, export_parquet_task, rebuild_search_index
from tasks.settings import load_settings
from warehouse.connection import run_scope


@flow(name="maintenance", log_prints=False)
def maintenance(warehouse: str | None = None, export_dir: str | None = "exports") -> dict[str, Any]:
    """Daily upkeep: search index, Parquet export (when ``export_dir`` is set) and a checkpoint.

    Args:
        warehouse: DuckDB file (default: settings).
        export_dir: Folder for the Parquet export; None or "" skips the export.

    Returns:
        What was done: rows indexed, rows exported.
    """
    logger = get_run_logger()
    settings = load_settings(warehouse_path=warehouse)
    path = settings.warehouse_path
    with run_scope(path, timeout=settings.lock_timeout, on_wait=logger.warning):
        prepare_warehouse(path)
        index = rebuild_search_index(path)
        exported = export_parquet_task(path, Path(export_dir)) if export_dir else None
        checkpoint(path)
    return {
        "indexed": index.rows,
        "index_seconds": round(index.seconds, 2),
        "exported_articles": exported.articles if exported else 0,
    }
