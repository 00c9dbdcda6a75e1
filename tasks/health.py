"""Feed health: the pure rules for failures, back-off, retirement, moves, kind and cursor after each fetch."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.records import FeedFetch, FeedHealth
from tasks.retry import FEED_BACKOFF

# Back-off after repeated failures: the first failure costs nothing (the next run tries again), then
# tasks.retry's FEED_BACKOFF. Retry-After from the server wins when it asks for longer.
BACKOFF_BASE = timedelta(seconds=FEED_BACKOFF.base_delay)
BACKOFF_CAP = timedelta(seconds=FEED_BACKOFF.max_delay)
RETRY_AFTER_CAP = timedelta(seconds=FEED_BACKOFF.retry_after_cap)
BLOCKED_ADDRESS = "blocked_address"  # tasks/http.py's reason for a refused private address
NOT_SERVED = "not_served"  # tasks/http.py's: the sample newsroom's server is not running
# Reasons that are the setup's doing, not the feed's: no failure counted, no back-off.
_SETUP_REASONS = (BLOCKED_ADDRESS, NOT_SERVED)


def next_feed_health(fetch: FeedFetch, previous_failures: int, now: datetime) -> FeedHealth:
    """Decide a feed's health after a fetch: failures, back-off, retirement, moves, kind and cursor.

    Args:
        fetch: The fetch record.
        previous_failures: Consecutive failures before this fetch.
        now: The current time.

    Returns:
        The feed's new state.
    """
    ok = fetch.error is None
    failures = 0 if ok else previous_failures + 1
    if fetch.error_reason in _SETUP_REASONS:
        # A refused private address is the configuration's doing (WIREHOUSE_ALLOW_PRIVATE_HOSTS), a
        # sample newsroom not served the demo's, not the feed's: neither counts as a failure nor
        # delays the next run, which may have it fixed.
        failures = previous_failures
    next_fetch: datetime | None = None
    if failures >= 2 and fetch.error_reason not in _SETUP_REASONS:
        next_fetch = now + timedelta(seconds=FEED_BACKOFF.backoff(failures - 1))
    if fetch.retry_after_s:
        asked = now + timedelta(seconds=FEED_BACKOFF.honoured(fetch.retry_after_s))
        next_fetch = max(next_fetch or asked, asked)
    retire = None
    if fetch.http_status == 410:
        retire = "gone (HTTP 410)"
    elif fetch.moved_to and ok:
        retire = f"moved permanently to {fetch.moved_to}"
    return FeedHealth(
        feed_url=fetch.feed_url,
        ok=ok,
        last_status=fetch.http_status,
        consecutive_failures=failures,
        next_fetch_at=next_fetch,
        # With entries left for a later run, the next fetch must be a full one: a 304 would hide them.
        etag=None if fetch.backlog else fetch.etag,
        last_modified=None if fetch.backlog else fetch.last_modified,
        retire_reason=retire,
        moved_to=fetch.moved_to if ok else None,
        kind=fetch.kind,
        # Entries dated before this fetch were all seen, unless some were left for a later run.
        cursor_at=fetch.started_at if ok and not fetch.backlog else None,
    )
