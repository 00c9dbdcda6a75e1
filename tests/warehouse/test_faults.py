"""Faults below wirehouse told apart from its own errors and said in one line."""

from __future__ import annotations

import errno

import duckdb
import pytest

from core.errors import PermanentError
from warehouse.faults import (
    CatalogLostError,
    StorageFullError,
    catalog_lost,
    first_line,
    known_fault,
    storage_full,
    translate,
    translating,
)
from warehouse.lake import QueryError, WarehouseError

LOST = (
    'IO Error: Unable to connect to Postgres at "host=127.0.0.1 port=5 dbname=lake": connection to '
    'server at "127.0.0.1", port 5 failed: Connection refused\n\tIs the server running on that host?'
)


def _raised_from(cause: BaseException) -> Exception:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise RuntimeError("storing a batch failed") from exc
    except RuntimeError as outer:
        return outer


def test_a_full_disk_is_known_by_errno_or_by_the_words_of_duckdb_and_tantivy():
    assert storage_full(_raised_from(OSError(errno.ENOSPC, "No space left on device")))
    assert storage_full(ValueError("An IO error occurred: 'No space left on device (os error 28) at path x'"))
    assert storage_full(
        duckdb.IOException('IO Error: Could not write file "a.parquet": No space left on device')
    )
    assert not storage_full(OSError(errno.EACCES, "Permission denied"))
    assert not storage_full(ValueError("(os error 280)"))


def test_a_lost_catalog_is_a_duckdb_error_only_and_names_the_catalog_without_its_password():
    assert catalog_lost(_raised_from(duckdb.IOException(LOST)))
    # A Dask scheduler or a feed server refusing a connection is not the catalog.
    assert not catalog_lost(_raised_from(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")))
    fault = known_fault(
        _raised_from(duckdb.IOException(LOST)), "postgres:host=db password=s3cret dbname=lake"
    )
    assert isinstance(fault, CatalogLostError) and fault.transient
    assert str(fault).startswith("lost the PostgreSQL catalog postgres:host=db password=*** dbname=lake (")
    assert "s3cret" not in str(fault) and "\n" not in str(fault)
    assert "(Connection refused)" in str(fault)


def test_known_fault_is_none_for_anything_else_and_first_line_never_fails():
    assert known_fault(KeyError("x"), "w") is None
    assert isinstance(known_fault(OSError(errno.ENOSPC, "full"), "w"), StorageFullError)
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(ValueError("  one\ntwo")) == "one"


def test_an_invalidated_database_on_a_server_catalog_is_the_catalog_lost():
    fatal = duckdb.FatalException(
        "FATAL Error: Failed: database has been invalidated because of a previous fatal error"
    )
    fault = known_fault(_raised_from(fatal), "postgres:host=db dbname=lake")
    assert isinstance(fault, CatalogLostError) and "postgres:host=db dbname=lake" in str(fault)
    assert known_fault(_raised_from(fatal), "warehouse/news.sqlite") is None  # embedded: a bug to report


def test_a_transaction_aborted_under_a_server_catalog_is_the_catalog_lost():
    aborted = duckdb.TransactionException(
        "TransactionContext Error: Current transaction is aborted (please ROLLBACK)"
    )
    fault = known_fault(_raised_from(aborted), "postgres:host=db dbname=lake")
    assert isinstance(fault, CatalogLostError) and "postgres:host=db dbname=lake" in str(fault)
    assert known_fault(_raised_from(aborted), "warehouse/news.sqlite") is None  # embedded: a bug to report
    other = duckdb.TransactionException(
        "TransactionContext Error: cannot start a transaction within a transaction"
    )
    assert known_fault(_raised_from(other), "postgres:host=db dbname=lake") is None


def test_translate_says_every_duckdb_error_in_one_line_and_leaves_bugs_alone():
    missing = duckdb.CatalogException(
        "Catalog Error: Table with name articles does not exist!\nDid you mean x?"
    )
    told = translate(missing, "w")
    assert (
        type(told) is WarehouseError
        and str(told) == "Catalog Error: Table with name articles does not exist!"
    )
    own = QueryError("SQL error")
    assert translate(own, "w") is own
    assert isinstance(translate(_raised_from(OSError(errno.ENOSPC, "full")), "w"), StorageFullError)
    lost = translate(duckdb.IOException(LOST), "postgres:host=db dbname=lake")
    assert isinstance(lost, CatalogLostError)
    assert translate(KeyError("x"), "w") is None


def test_translating_raises_core_errors_from_the_duckdb_error():
    with pytest.raises(WarehouseError, match=r"^Binder Error: no$") as raised, translating("w"):
        raise duckdb.BinderException("Binder Error: no\nLINE 1")
    assert isinstance(raised.value.__cause__, duckdb.BinderException)
    assert isinstance(raised.value, PermanentError)
    with pytest.raises(KeyError), translating("w"):
        raise KeyError("x")
