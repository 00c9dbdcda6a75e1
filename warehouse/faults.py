"""Failures below wirehouse told apart: a full filesystem, and the one-line form of any error."""

from __future__ import annotations

import errno

from wirehouse.errors import PermanentError

# How DuckDB, SQLite and tantivy word ENOSPC: none of them keeps the errno on its exception.
_NO_SPACE = ("no space left on device", "(os error 28)", "database or disk is full")


class StorageFullError(PermanentError):
    """The lake's filesystem (data files, catalog or search index) has no space left."""


def first_line(exc: BaseException) -> str:
    """An exception's first line (its class name when the message is empty), for one-line errors."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def storage_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, is a full filesystem."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if any(words in str(seen).lower() for words in _NO_SPACE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def storage_full_error(exc: BaseException) -> StorageFullError:
    """The one-line error for a full filesystem, naming what could not be written."""
    return StorageFullError(
        f"no space left on the lake's filesystem ({first_line(exc)}): free space and run again; "
        "what earlier commits stored is intact"
    )
