"""Maintenance, as Prefect tasks: data file and search index checks, Parquet export, lake upkeep (SQL in warehouse/)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from tasks.export import ExportStats
from tasks.search import SearchIndexStats
from warehouse import datafiles, export, maintenance, search
from warehouse.connection import lake_of, open_warehouse
from warehouse.staging import merge_staged


@task(name="check-data-files", cache_policy=NO_CACHE)
def check_data_files(path: Path, decode: bool = False) -> int:
    """Check that every live data file is there, of its recorded size, with a readable footer.

    Runs before anything that reads or rewrites the lake, so a damaged file is named instead of
    failing the export or a merge with DuckDB's words.

    Args:
        path: The warehouse.
        decode: Also decode every page of every file (reads the whole lake).

    Returns:
        Live files checked (none of them damaged).

    Raises:
        DamagedDataError: Some are damaged; the message names each (restore them from a backup).
    """
    with open_warehouse(path, read_only=True) as con:
        damaged = datafiles.damaged_files(con, decode=decode)
        checked = datafiles.live_file_count(con)
    if damaged:
        named = "; ".join(f"{d.path} (table {d.table}: {d.reason})" for d in damaged)
        raise datafiles.DamagedDataError(f"{len(damaged)} damaged data files in warehouse {path}: {named}")
    return checked


@task(name="check-search-index", cache_policy=NO_CACHE)
def check_search_index(path: Path) -> SearchIndexStats:
    """Rebuild the search index only if it does not hold exactly the extracted articles.

    Every stored batch updates the index; this repairs an index that was lost or fell behind (a run
    killed between its commit and its index update).

    Args:
        path: The warehouse.

    Returns:
        Documents in the index, and what a rebuild (if any) took.
    """
    with open_warehouse(path, read_only=True) as con:
        return search.sync_search_index(con, lake_of(path).search_dir)


@task(name="export-parquet", cache_policy=NO_CACHE)
def export_parquet_task(path: Path, out_dir: Path) -> ExportStats:
    """Export the warehouse as Parquet.

    Args:
        path: The warehouse.
        out_dir: Output folder.

    Returns:
        What was written.
    """
    with open_warehouse(path, read_only=True) as con:
        return export.export_parquet(con, out_dir)


@task(name="expire-raw-html", cache_policy=NO_CACHE)
def expire_raw_html_task(path: Path, days: int) -> int:
    """Delete the raw HTML of pages fetched more than ``days`` days ago (lake upkeep then frees the bytes).

    Args:
        path: The warehouse (the caller holds its run lock).
        days: The ``raw_html_days`` retention window.

    Returns:
        Raw pages deleted.
    """
    with open_warehouse(path) as con:
        return maintenance.expire_raw_html(con, days)


@task(name="lake-upkeep", cache_policy=NO_CACHE)
def lake_upkeep(
    path: Path, keep_snapshots_days: float, file_grace_minutes: float, orphan_grace_hours: float = 24.0
) -> maintenance.LakeUpkeep:
    """Merge small Parquet files, expire old snapshots, delete files no snapshot needs and orphans.

    Args:
        path: The warehouse (the caller holds its run lock).
        keep_snapshots_days: How far back time travel reaches afterwards.
        file_grace_minutes: How long unneeded files stay for queries still reading them.
        orphan_grace_hours: How long files no commit references stay (a running transaction's).

    Returns:
        File counts before and after.
    """
    merge_staged(path)  # a shared lake: batches a killed run left staged are folded in first
    with open_warehouse(path) as con:
        return maintenance.upkeep(
            con,
            keep_snapshots=timedelta(days=keep_snapshots_days),
            file_grace=timedelta(minutes=file_grace_minutes),
            orphan_grace=timedelta(hours=orphan_grace_hours),
        )
