"""The sample newsroom's loopback port as the lake remembers it (the SQL half of the demo's host)."""

from __future__ import annotations

import duckdb

from warehouse.connection import transaction

_PORT = "SELECT port FROM demo_newsroom ORDER BY registered_at DESC LIMIT 1"
_FORGET = "DELETE FROM demo_newsroom"
_REMEMBER = "INSERT INTO demo_newsroom (port) VALUES (?)"
_SAMPLE_STORED = "SELECT count(*) FROM article_store WHERE url LIKE ?"


def remembered_port(con: duckdb.DuckDBPyConnection) -> int | None:
    """The port the last `wirehouse demo` served the sample newsroom on, or None (never, or an old lake).

    Args:
        con: An open connection to the lake.

    Returns:
        The port, or None.
    """
    try:
        row = con.execute(_PORT).fetchone()
    except duckdb.CatalogException:  # a lake from before migration 009, opened read-only
        return None
    return int(row[0]) if row else None


def remember_port(con: duckdb.DuckDBPyConnection, port: int) -> None:
    """Keep the port the sample newsroom is served on now (nothing is written when it is unchanged).

    Args:
        con: A read-write connection (under the lake's write lock).
        port: The loopback port.
    """
    if remembered_port(con) == port:
        return
    with transaction(con):
        con.execute(_FORGET)
        con.execute(_REMEMBER, [port])


def sample_stored(con: duckdb.DuckDBPyConnection, base: str) -> bool:
    """Whether the lake holds articles of the sample newsroom (served under ``base``)."""
    try:
        row = con.execute(_SAMPLE_STORED, [base.rstrip("/") + "/%"]).fetchone()
    except duckdb.CatalogException:  # no lake tables yet
        return False
    return bool(row and row[0])
