"""What a fetch gives: the Response, or the FetchError of a fetch that gave none.

Also the Fetcher protocol and the readers of response headers (Content-Type's charset, Retry-After).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Protocol

from core.errors import WirehouseError
from tasks.retry import FETCH_RETRIES
from tasks.retry import TRANSIENT_STATUSES as TRANSIENT_STATUSES

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(WirehouseError):
    """A fetch that produced no usable response; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (timeouts, refused connections, 5xx): tasks.retry decides."""
        return FETCH_RETRIES.transient(self.reason, self.status)


# The reason of a fetch from a host wirehouse serves itself (the sample newsroom) when nothing serves it:
# the demo server stopped. Like a blocked address, the setup's doing, not the feed's (tasks/health.py).
NOT_SERVED = "not_served"


class BlockedAddressError(FetchError):
    """The URL's host resolves to an address the SSRF guard refuses."""


@dataclass(frozen=True)
class Response:
    """A complete HTTP response, body already read and decompressed."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    redirects: tuple[str, ...] = ()
    elapsed: float = 0.0
    permanent_url: str | None = None  # where leading 301/308 redirects lead (the resource moved)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ('' when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if any."""
        return charset_from_content_type(self.headers.get("content-type", ""))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Read a Retry-After header: delta-seconds or an HTTP date.

    Args:
        value: The header value.
        now: The current time (for HTTP dates).

    Returns:
        Seconds to wait (>= 0), or None when absent or unreadable.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Fetcher(Protocol):
    """What the pipeline needs from HTTP; tasks.http.HttpClient is the only implementation."""

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        check_robots: bool = False,
    ) -> Response:
        """Fetch one URL."""
        ...


def charset_from_content_type(value: str) -> str | None:
    """Return the charset parameter of a Content-Type header value.

    Args:
        value: e.g. ``text/html; charset=ISO-8859-1``.

    Returns:
        The lower-cased charset, or None.
    """
    if not value:
        return None
    message = Message()
    message["content-type"] = value
    charset = message.get_param("charset")
    return str(charset).strip().lower() if isinstance(charset, str) and charset.strip() else None
