"""Conditional GET, back-off, Retry-After, moves and retirement: pure rules and a real server round trip."""

from datetime import UTC, datetime, timedelta

import pytest

from core.records import FeedFetch, FeedSource
from core.settings import Settings
from tasks.feeds import BACKOFF_CAP, conditional_headers, fetch_feed_result, next_feed_health
from tasks.http import FetchError, HttpClient, parse_retry_after
from warehouse.connection import open_warehouse
from warehouse.feeds import due_feeds, feed_statuses, save_feeds, store_fetches

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SETTINGS = Settings(allow_private_hosts=frozenset({"127.0.0.1", "localhost"}), host_delay=0, total_timeout=5)
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>a</title><link>https://a.example/1</link></item></channel></rss>"""


def fetch(**kw):
    return FeedFetch(**{"feed_url": "https://f.example/rss", "started_at": NOW, "finished_at": NOW, **kw})


def test_success_resets_failures_and_is_due_next_run():
    health = next_feed_health(fetch(http_status=200, etag='"v2"'), previous_failures=4, now=NOW)
    assert (health.ok, health.consecutive_failures, health.next_fetch_at, health.etag) == (
        True,
        0,
        None,
        '"v2"',
    )


def test_failures_back_off_exponentially_with_a_cap():
    delays = []
    for previous in range(12):
        health = next_feed_health(fetch(error="HTTP 500", http_status=500), previous, NOW)
        delays.append(health.next_fetch_at - NOW if health.next_fetch_at else timedelta(0))
    assert delays[0] == timedelta(0)  # one failure: simply try again next run
    assert (
        delays[1] == timedelta(minutes=30)
        and delays[2] == timedelta(hours=1)
        and delays[3] == timedelta(hours=2)
    )
    assert max(delays) == BACKOFF_CAP and delays == sorted(delays)


def test_a_blocked_address_is_configuration_not_health_and_never_backs_off():
    blocked = fetch(error="127.0.0.1 resolves to non-public address", error_reason="blocked_address")
    for previous in (0, 1, 5):
        health = next_feed_health(blocked, previous, NOW)
        assert (health.ok, health.consecutive_failures, health.next_fetch_at) == (False, previous, None)


def test_a_sample_newsroom_not_served_is_the_setup_not_health_and_never_backs_off():
    stopped = fetch(error="nothing serves newsroom.localhost on 127.0.0.1:8765", error_reason="not_served")
    for previous in (0, 1, 5):
        health = next_feed_health(stopped, previous, NOW)
        assert (health.ok, health.consecutive_failures, health.next_fetch_at) == (False, previous, None)


def test_blocked_fetches_leave_the_feed_due(warehouse_path):
    feed = FeedSource("http://127.0.0.1:9/rss")
    blocked = fetch(feed_url=feed.url, error="blocked", error_reason="blocked_address")
    with open_warehouse(warehouse_path, migrate=True) as con:
        save_feeds(con, [feed], "test")
        for minutes in range(4):  # four scheduled runs in a row without WIREHOUSE_ALLOW_PRIVATE_HOSTS
            store_fetches(con, [blocked], f"r{minutes}", NOW + timedelta(minutes=minutes))
        assert [f.url for f in due_feeds(con, NOW + timedelta(minutes=4))] == [feed.url]
        assert feed_statuses(con)[0].consecutive_failures == 0


def test_retry_after_is_honoured_and_capped():
    health = next_feed_health(fetch(error="HTTP 429", http_status=429, retry_after_s=7200), 0, NOW)
    assert health.next_fetch_at == NOW + timedelta(hours=2)
    huge = next_feed_health(fetch(error="HTTP 503", http_status=503, retry_after_s=10**9), 0, NOW)
    assert huge.next_fetch_at == NOW + timedelta(days=7)


def test_gone_retires_and_moved_moves():
    assert (
        next_feed_health(fetch(error="HTTP 410", http_status=410), 0, NOW).retire_reason == "gone (HTTP 410)"
    )
    moved = next_feed_health(fetch(http_status=200, moved_to="https://new.example/rss"), 0, NOW)
    assert moved.moved_to == "https://new.example/rss" and "moved" in moved.retire_reason


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("Wed, 25 Nov 2026 13:00:00 GMT", 3600.0), ("", None), ("soon", None), (None, None)],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_conditional_get_round_trip(httpserver, warehouse_path):
    httpserver.expect_ordered_request("/rss").respond_with_data(
        RSS, headers={"ETag": '"v1"', "Last-Modified": "Tue, 24 Nov 2026 10:00:00 GMT"}
    )
    httpserver.expect_ordered_request("/rss", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304, headers={"ETag": '"v2"'}
    )
    url = httpserver.url_for("/rss")
    with open_warehouse(warehouse_path, migrate=True) as con, HttpClient(SETTINGS) as client:
        save_feeds(con, [FeedSource(url)], "test")
        (feed,) = due_feeds(con, NOW)
        first = fetch_feed_result(client, feed, SETTINGS)
        assert first.fetch.entries_seen == 1
        store_fetches(con, [first.fetch], "r1", NOW)
        (feed,) = due_feeds(con, NOW)
        assert (feed.etag, feed.last_modified) == ('"v1"', "Tue, 24 Nov 2026 10:00:00 GMT")
        assert conditional_headers(feed) == {
            "If-None-Match": '"v1"',
            "If-Modified-Since": "Tue, 24 Nov 2026 10:00:00 GMT",
        }
        second = fetch_feed_result(client, feed, SETTINGS)
        assert (second.fetch.http_status, second.fetch.error, second.entries) == (304, None, ())
        store_fetches(con, [second.fetch], "r2", NOW)
        (feed,) = due_feeds(con, NOW)
        assert feed.etag == '"v2"'  # new validators saved even though the body did not change


def test_permanent_redirect_moves_the_feed(httpserver, warehouse_path):
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data(RSS)
    old = httpserver.url_for("/old")
    with open_warehouse(warehouse_path, migrate=True) as con, HttpClient(SETTINGS) as client:
        save_feeds(con, [FeedSource(old, "Old title", None, "World")], "test")
        result = fetch_feed_result(client, FeedSource(old), SETTINGS)
        assert result.fetch.moved_to == httpserver.url_for("/new")
        store_fetches(con, [result.fetch], "r", NOW)
        assert [f.url for f in due_feeds(con, NOW)] == [httpserver.url_for("/new")]
        assert [f.url for f in due_feeds(con, NOW, only=[old])] == [
            httpserver.url_for("/new")
        ]  # an old list still works
        statuses = {s.feed_url: s for s in feed_statuses(con)}
        assert statuses[old].active is False and "moved" in statuses[old].retired_reason
        assert statuses[httpserver.url_for("/new")].title == "Old title"


def test_gone_feed_is_retired_and_failing_feed_backs_off(httpserver, warehouse_path):
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    httpserver.expect_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "3600"})
    feeds = [FeedSource(httpserver.url_for("/gone")), FeedSource(httpserver.url_for("/busy"))]
    with open_warehouse(warehouse_path, migrate=True) as con, HttpClient(SETTINGS) as client:
        save_feeds(con, feeds, "test")
        results = [fetch_feed_result(client, f, SETTINGS) for f in feeds]
        assert results[1].fetch.retry_after_s == 3600
        store_fetches(con, [r.fetch for r in results], "r", NOW)
        assert due_feeds(con, NOW) == []
        assert [f.url for f in due_feeds(con, NOW + timedelta(hours=1, seconds=1))] == [feeds[1].url]


def test_server_errors_without_retry_after_raise_for_a_retry(httpserver):
    httpserver.expect_request("/err").respond_with_data("", status=502)
    with HttpClient(SETTINGS) as client, pytest.raises(FetchError) as info:
        fetch_feed_result(client, FeedSource(httpserver.url_for("/err")), SETTINGS)
    assert info.value.transient


def test_health_moves_the_cursor_only_without_backlog():
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    done = FeedFetch("https://a.example/s.xml", now, now, http_status=200, kind="sitemap", etag='"e"')
    assert next_feed_health(done, 0, now).cursor_at == now
    left = FeedFetch("https://a.example/s.xml", now, now, http_status=200, backlog=True, etag='"e"')
    health = next_feed_health(left, 0, now)
    # Entries were left: no cursor move, and no validators, so that a 304 cannot hide them next run.
    assert (health.cursor_at, health.etag) == (None, None)
    failed = FeedFetch("https://a.example/s.xml", now, now, error="x", error_reason="not_a_sitemap")
    assert next_feed_health(failed, 0, now).cursor_at is None
