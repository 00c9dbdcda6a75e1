"""The one retry policy of every fetch (feeds, pages, archives): what is transient, how long to wait, Retry-After."""

from __future__ import annotations

from dataclasses import dataclass, replace

# Statuses worth another try later: the server said "not now", not "never".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# FetchError reasons worth another try: the network or the server's robots.txt failed, not the page.
TRANSIENT_REASONS = frozenset({"timeout", "connect", "protocol", "robots_unavailable"})


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are transient, and the wait before each retry: doubling from ``base_delay``, capped.

    A server's Retry-After is honoured when it asks for longer than the back-off, up to
    ``retry_after_cap``; a transient status that came with one is not retried at once, since the server
    said when (the caller records the wait instead).
    """

    base_delay: float = 2.0  # seconds before the first retry
    max_delay: float = 60.0  # cap of the doubling back-off
    retry_after_cap: float = 60.0  # the longest Retry-After obeyed
    max_attempts: int = 3  # attempts in all, the first included
    statuses: frozenset[int] = TRANSIENT_STATUSES
    reasons: frozenset[str] = TRANSIENT_REASONS

    def transient_status(self, status: int | None) -> bool:
        """Whether an HTTP status is worth another try later."""
        return status in self.statuses

    def transient(self, reason: str | None, status: int | None = None) -> bool:
        """Whether a failed fetch (its FetchError reason, and status if any) is worth another try later."""
        return reason in self.reasons or self.transient_status(status)

    def retry_now(self, status: int, retry_after: float | None) -> bool:
        """Whether a response is worth retrying within this run: transient, and no Retry-After that says when."""
        return self.transient_status(status) and retry_after is None

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1: the first), doubling and capped at ``max_delay``."""
        # The exponent is bounded: a feed failing for years must not overflow a float.
        return float(min(self.base_delay * 2 ** min(max(0, retry - 1), 64), self.max_delay))

    def honoured(self, retry_after: float) -> float:
        """The part of a Retry-After (seconds) that is obeyed: all of it, up to ``retry_after_cap``."""
        return float(min(max(0.0, retry_after), self.retry_after_cap))

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``retry``: the back-off, or the server's Retry-After when longer.

        Args:
            retry: 1 for the first retry.
            retry_after: What the server asked for, if it did.

        Returns:
            Seconds to wait.
        """
        wait = self.backoff(retry)
        return wait if retry_after is None else max(wait, self.honoured(retry_after))


# Fetches retried within one call (an archive opened over HTTP).
FETCH_RETRIES = RetryPolicy()
# Feeds that keep failing are fetched again after 30 min, 1 h, 2 h, ... up to a day (tasks/health.py);
# a Retry-After of up to a week is obeyed.
FEED_BACKOFF = replace(FETCH_RETRIES, base_delay=30 * 60, max_delay=24 * 3600, retry_after_cap=7 * 24 * 3600)
# A page whose fetch failed transiently is tried again on later runs, six times in all, each after a
# growing pause: 15 min, 30 min, 1 h, 2 h, 4 h, so an outage of several hours loses nothing, while a
# page that stays broken stops costing requests after about eight hours (warehouse/keys.py).
PAGE_REFETCH = replace(FETCH_RETRIES, base_delay=15 * 60, max_delay=4 * 3600, max_attempts=6)
