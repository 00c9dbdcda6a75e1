"""The backfill's filters on archive records: by host (names and globs) and by capture date."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """The lower-cased host of a URL (no port).

    Args:
        url: An absolute URL.

    Returns:
        The host, or an empty string.
    """
    return (urlsplit(url).hostname or "").lower()


def split_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Read a comma list (or several) into its items, lower-cased, empty ones dropped.

    Args:
        value: ``"a, b"``, a list of such strings, or None.

    Returns:
        The items.
    """
    if value is None:
        return ()
    parts = [value] if isinstance(value, str) else list(value)
    return tuple(item.strip().lower() for part in parts for item in part.split(",") if item.strip())


def host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    """Tell whether a host passes the ``--host`` filter.

    A pattern with ``*``, ``?`` or ``[`` is a glob over the whole host; a plain name matches that
    host and its subdomains (``example.org`` takes ``www.example.org``).

    Args:
        host: The page's host.
        patterns: The filter's patterns (none: every host passes).

    Returns:
        True when the page is wanted.
    """
    if not patterns:
        return True
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            if fnmatch.fnmatchcase(host, pattern):
                return True
        elif host == pattern or host.endswith("." + pattern):
            return True
    return False


def in_period(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    """Tell whether a date lies in ``[since, until)``; an unknown date passes no bound.

    Args:
        when: The page's date.
        since: Lower bound (inclusive), or None.
        until: Upper bound (exclusive), or None.

    Returns:
        True when the page is wanted.
    """
    if since is None and until is None:
        return True
    if when is None:
        return False
    return (since is None or when >= since) and (until is None or when < until)
