"""Warehouse schema: numbered SQL migrations, the public views and example queries, plus a tiny runner."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
MIGRATIONS_DIR = HERE / "migrations"
VIEWS_FILE = HERE / "views.sql"
QUERIES_DIR = HERE / "queries"
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)
"""
_APPLIED = "SELECT version FROM schema_migrations"
_RECORD = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)"


def list_migrations(folder: Path = MIGRATIONS_DIR) -> list[tuple[int, str, Path]]:
    """List migration files as ``(version, name, path)`` in version order.

    Args:
        folder: Where the ``NNN_name.sql`` files are.

    Returns:
        The migrations, sorted; duplicate versions raise ValueError.
    """
    found: dict[int, tuple[int, str, Path]] = {}
    for path in folder.glob("*.sql"):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 001_name.sql: {path.name}")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations with version {version}")
        found[version] = (version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def migrate(con: Any, folder: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations, each in its own transaction, then re-create the views.

    Args:
        con: An open read-write DuckDB connection.
        folder: Migration folder.

    Returns:
        Versions applied by this call (empty when the schema was current).
    """
    con.execute(_CREATE_LEDGER)
    applied = {row[0] for row in con.execute(_APPLIED).fetchall()}
    done: list[int] = []
    for version, name, path in list_migrations(folder):
        if version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute(_RECORD, [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        done.append(version)
    con.execute(VIEWS_FILE.read_text(encoding="utf-8"))
    return done
