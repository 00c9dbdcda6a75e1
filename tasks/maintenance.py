"""Maintenance, as Prefect tasks: search index, Parquet export and checkpoint (the SQL is in warehouse/)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from tasks.export import ExportStats
from tasks.search import SearchIndexStats
from warehouse import export, search
from warehouse.connection import open_warehouse


@task(name="rebuild-search-index", cache_policy=NO_CACHE)
def rebuild_search_index(path: Path) -> SearchIndexStats:
    """Rebuild the full-text index from the articles.

    Args:
        path: The DuckDB file.

    Returns:
        Rows indexed and time taken.
    """
    with open_warehouse(path) as con:
        return search.build_search_index(con)


@task(name="export-parquet", cache_policy=NO_CACHE)
def export_parquet_task(path: Path, out_dir: Path) -> ExportStats:
    """Export the warehouse as Parquet.

    Args:
        path: The DuckDB file.
        out_dir: Output folder.

    Returns:
        What was written.
    """
    with open_warehouse(path, read_only=True) as con:
        return export.export_parquet(con, out_dir)


@task(name="checkpoint", cache_policy=NO_CACHE)
def checkpoint(path: Path) -> None:
    """Write the WAL into the database file (DuckDB does this on its own too; daily keeps the WAL short).

    Args:
        path: The DuckDB file.
    """
    with open_warehouse(path) as con:
        export.checkpoint(con)
