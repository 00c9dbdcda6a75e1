"""Failures below wirehouse told apart from its own errors: a full filesystem, a lost catalog, any DuckDB error."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from core.errors import PermanentError, TransientError, WirehouseError, first_line
from warehouse.lake import WarehouseError

# How DuckDB, SQLite and tantivy word ENOSPC: none of them keeps the errno on its exception.
_NO_SPACE = ("no space left on device", "(os error 28)", "database or disk is full")


# How libpq (through DuckDB's postgres scanner) says that the catalog's server went away or is not up.
_CATALOG_LOST = (
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "no connection to the server",
    "connection refused",
    "ssl syscall error",
)
_SECRET = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)


class CatalogLostError(TransientError):
    """The PostgreSQL catalog stopped answering (a restart, a failover, the network)."""


class StorageFullError(PermanentError):
    """The lake's filesystem (data files, catalog or search index) has no space left."""


def storage_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, is a full filesystem."""
    return any(
        (isinstance(seen, OSError) and seen.errno == errno.ENOSPC)
        or any(words in str(seen).lower() for words in _NO_SPACE)
        for seen in _chain(exc)
    )


def storage_full_error(exc: BaseException) -> StorageFullError:
    """The one-line error for a full filesystem, naming what could not be written."""
    return StorageFullError(
        f"no space left on the lake's filesystem ({first_line(exc)}): free space and run again; "
        "what earlier commits stored is intact"
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def catalog_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised from or during, the catalog's server going away (a DuckDB error)."""
    return any(
        isinstance(seen, duckdb.Error) and any(words in str(seen).lower() for words in _CATALOG_LOST)
        for seen in _chain(exc)
    )


def catalog_lost_error(exc: BaseException, warehouse: str) -> CatalogLostError:
    """The one-line error for a catalog that went away, naming it (any password masked)."""
    lines = [line.strip() for seen in _chain(exc) for line in str(seen).splitlines()]
    reason = next((line for line in lines if any(w in line.lower() for w in _CATALOG_LOST)), first_line(exc))
    catalog = _SECRET.sub(r"\1***", warehouse)
    return CatalogLostError(
        f"lost the PostgreSQL catalog {catalog} ({reason.rsplit(' failed: ', 1)[-1]}): run again once it "
        "answers; a transaction it did not commit stored nothing"
    )


def known_fault(exc: BaseException, warehouse: str) -> PermanentError | TransientError | None:
    """The one-line error of a failure below wirehouse that the user can act on, if ``exc`` is one."""
    if storage_full(exc):
        return storage_full_error(exc)
    if catalog_lost(exc) or (_on_server(warehouse) and _invalidated(exc)):
        return catalog_lost_error(exc, warehouse)
    return None


def translate(exc: BaseException, warehouse: str) -> WirehouseError | None:
    """The one-line error ``exc`` means to the user, or None for a bug (whose traceback a report needs).

    The one place that knows DuckDB's exception types for the layers above warehouse/: a fault below
    wirehouse first (also when a wirehouse error was raised from it), then wirehouse's own errors, then
    any other DuckDB error as a :class:`WarehouseError` with its first line (e.g. a warehouse that no
    ingest has created the tables of yet).

    Args:
        exc: Any exception.
        warehouse: The warehouse as the user named it, for the message of a lost catalog.

    Returns:
        A wirehouse error, or None.
    """
    if isinstance(exc, (StorageFullError, CatalogLostError)):
        return exc
    if fault := known_fault(exc, warehouse):
        return fault
    if isinstance(exc, WirehouseError):
        return exc
    if isinstance(exc, duckdb.Error):
        return WarehouseError(first_line(exc))
    return None


@contextmanager
def translating(warehouse: str) -> Iterator[None]:
    """Raise what :func:`translate` makes of a DuckDB error inside the block; other errors pass unchanged.

    Args:
        warehouse: The warehouse as the user named it.

    Yields:
        Nothing.
    """
    try:
        yield
    except duckdb.Error as exc:
        raise (translate(exc, warehouse) or exc) from exc


def _on_server(warehouse: str) -> bool:
    return warehouse.startswith(("postgres:", "postgresql://", "postgres://"))


def _invalidated(exc: BaseException) -> bool:
    # A connection cut inside a statement can leave DuckDB's "database has been invalidated" as the only
    # error the run sees, or a transaction the postgres scanner aborted under it ("Current transaction is
    # aborted": wirehouse never goes on after a failed statement): on a server catalog, the catalog going
    # away is what caused it.
    return any(
        isinstance(seen, duckdb.FatalException)
        or (isinstance(seen, duckdb.TransactionException) and "transaction is aborted" in str(seen).lower())
        for seen in _chain(exc)
    )
