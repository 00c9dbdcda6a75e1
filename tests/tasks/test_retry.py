"""The one retry policy: transient statuses and reasons, doubling back-off, Retry-After honoured and capped."""

from __future__ import annotations

from tasks.retry import FEED_BACKOFF, FETCH_RETRIES, PAGE_REFETCH, TRANSIENT_STATUSES, RetryPolicy


def test_transient_statuses_and_reasons_are_the_servers_not_now():
    assert {408, 425, 429, 500, 502, 503, 504} == TRANSIENT_STATUSES
    assert FETCH_RETRIES.transient("timeout") and FETCH_RETRIES.transient("robots_unavailable")
    assert FETCH_RETRIES.transient("http_status", 503)
    assert not FETCH_RETRIES.transient("not_served") and not FETCH_RETRIES.transient("http_status", 404)
    assert not FETCH_RETRIES.transient_status(None)


def test_a_status_that_says_when_is_not_retried_now():
    assert FETCH_RETRIES.retry_now(503, None) and FETCH_RETRIES.retry_now(500, None)
    assert not FETCH_RETRIES.retry_now(503, 30.0) and not FETCH_RETRIES.retry_now(429, 0.0)
    assert not FETCH_RETRIES.retry_now(404, None)


def test_the_delay_doubles_up_to_its_cap_and_a_longer_retry_after_wins_up_to_its_cap():
    policy = RetryPolicy(base_delay=2, max_delay=10, retry_after_cap=60)
    assert [policy.delay(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert policy.delay(1, retry_after=30) == 30 and policy.delay(3, retry_after=1) == 8
    assert policy.delay(1, retry_after=3600) == 60
    assert FEED_BACKOFF.backoff(10_000) == 24 * 3600  # no overflow for a feed that fails for years


def test_the_feed_and_page_pauses_are_the_documented_ones():
    assert [FEED_BACKOFF.backoff(n) / 60 for n in (1, 2, 3)] == [30, 60, 120]
    assert FEED_BACKOFF.honoured(30 * 24 * 3600) == 7 * 24 * 3600
    assert [PAGE_REFETCH.backoff(n) / 60 for n in range(1, PAGE_REFETCH.max_attempts)] == [
        15,
        30,
        60,
        120,
        240,
    ]
