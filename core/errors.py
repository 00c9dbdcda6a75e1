"""The one exception root: every error wirehouse raises on purpose is a ``WirehouseError``.

The CLI catches this one class and prints its message as one line; retry decisions ask
``is_transient(exc)`` instead of matching strings (dlt's ``TransientException``/``TerminalException``).
"""

from __future__ import annotations


class WirehouseError(Exception):
    """Base of every error wirehouse raises on purpose; the message is meant for the user."""

    @property
    def transient(self) -> bool:
        """Whether trying the same thing again later may succeed."""
        return False


class TransientError(WirehouseError):
    """Trying again later may succeed: a busy warehouse, a timeout, a server that said "not now"."""

    @property
    def transient(self) -> bool:
        """Always true for this class."""
        return True


class PermanentError(WirehouseError):
    """Trying again will fail the same way until something (input, settings, code) changes."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying: wirehouse's own errors say so; anything else is not.

    Args:
        exc: Any exception.

    Returns:
        True for a transient wirehouse error.
    """
    return isinstance(exc, WirehouseError) and exc.transient


def first_line(exc: BaseException) -> str:
    """An exception's first line (its class name when the message is empty), for one-line errors.

    Args:
        exc: Any exception.

    Returns:
        The first non-blank line of its message, or its class name.
    """
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
