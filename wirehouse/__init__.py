"""wirehouse: the command line, the bundled offline sample newsroom, and ``connect()`` for notebooks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


def connect(
    warehouse: str | Path | None = None, *, read_only: bool = True, as_of: int | datetime | None = None
) -> Any:
    """Open the warehouse from Python: a DuckDB connection with the lake attached and its views ready.

    Reading never blocks an ingest, and an ingest never blocks a reader. Example::

        import wirehouse
        con = wirehouse.connect()
        con.sql("select language, count(*) from articles group by 1").show()

    Args:
        warehouse: The lake's SQLite catalog or a ``postgres:`` address (default: the settings'
            ``WIREHOUSE_WAREHOUSE``, ``warehouse/news.sqlite``).
        read_only: Attach for reading only (the default; writing is for the flows).
        as_of: Read the lake as it was at this snapshot version or time.

    Returns:
        A ``duckdb.DuckDBPyConnection``; close it when done.
    """
    from core.settings import load_settings
    from warehouse.connection import WarehouseError, lake_of
    from warehouse.connection import connect as open_lake

    if not warehouse:
        warehouse = load_settings().warehouse_path
        if read_only and not lake_of(warehouse).exists():
            # A notebook runs in its own folder, where the relative default names nothing.
            raise WarehouseError(
                f"warehouse {warehouse} does not exist (looked for {Path(warehouse).absolute()}); "
                "point at the lake with wirehouse.connect('/path/to/warehouse/news.sqlite') "
                "or WIREHOUSE_WAREHOUSE=/path/to/warehouse/news.sqlite"
            )
    return open_lake(warehouse, read_only=read_only, as_of=as_of)
