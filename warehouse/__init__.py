"""Warehouse schema: numbered SQL migrations, the public views and example queries, plus a tiny runner.

The lake's migrations are in ``migrations/``; ``legacy/migrations/`` are those of the single-file
DuckDB warehouse of older versions, applied to such a file before it is converted into the lake.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
MIGRATIONS_DIR = HERE / "migrations"
LEGACY_MIGRATIONS_DIR = HERE / "legacy" / "migrations"
VIEWS_FILE = HERE / "views.sql"
QUERIES_DIR = HERE / "queries"
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

# No primary key: DuckLake has none (one migrating writer at a time, under the run lock).
_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER NOT NULL,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)
"""
# The views' text as last created, so that a run re-creates them only when they changed (each
# re-creation is a snapshot of the lake).
_CREATE_VIEWS_LEDGER = "CREATE TABLE IF NOT EXISTS schema_views (sha256 VARCHAR NOT NULL)"
_VIEWS_HASH = "SELECT sha256 FROM schema_views"
_CLEAR_VIEWS_HASH = "DELETE FROM schema_views"
_RECORD_VIEWS_HASH = "INSERT INTO schema_views VALUES (?)"
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


def needs_migration(con: Any, folder: Path = MIGRATIONS_DIR) -> bool:
    """Tell whether :func:`migrate` has anything to do (a cheap read, no lock needed).

    Args:
        con: An open connection.
        folder: Migration folder.

    Returns:
        True when a migration is pending, the views changed, or the ledgers do not exist yet.
    """
    try:
        applied = {row[0] for row in con.execute(_APPLIED).fetchall()}
        hashes = [row[0] for row in con.execute(_VIEWS_HASH).fetchall()]
    except Exception:  # no ledger yet: a new lake
        return True
    digest = hashlib.sha256(VIEWS_FILE.read_text(encoding="utf-8").encode()).hexdigest()
    return any(version not in applied for version, _, _ in list_migrations(folder)) or hashes != [digest]


def migrate(con: Any, folder: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations, each in its own transaction, then re-create the views.

    Args:
        con: An open read-write connection (the lake, or a single-file warehouse being converted).
        folder: Migration folder.

    Returns:
        Versions applied by this call (empty when the schema was current).
    """
    con.execute("BEGIN TRANSACTION")
    con.execute(_CREATE_LEDGER)
    con.execute(_CREATE_VIEWS_LEDGER)
    con.execute("COMMIT")
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
            _rollback(con)
            raise
        done.append(version)
    views = VIEWS_FILE.read_text(encoding="utf-8")
    digest = hashlib.sha256(views.encode()).hexdigest()
    if done or [row[0] for row in con.execute(_VIEWS_HASH).fetchall()] != [digest]:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(views)
            con.execute(_CLEAR_VIEWS_HASH)
            con.execute(_RECORD_VIEWS_HASH, [digest])
            con.execute("COMMIT")
        except Exception:
            _rollback(con)
            raise
    return done


def _rollback(con: Any) -> None:
    """Roll back after a failure; a transaction that already ended (a failed COMMIT) needs none."""
    try:
        con.execute("ROLLBACK")
    except Exception:
        return
