"""Feeds and their fetch log in the warehouse."""

from dataclasses import replace
from datetime import timedelta

from core.records import FeedFetch, FeedSource
from tests.warehouse.test_articles import NOW, art
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse
from warehouse.feeds import active_feeds, feed_statuses, save_feeds, store_fetches


def test_kind_and_cursor_are_kept_per_source(warehouse_path):
    sitemap = "https://a.example/sitemap.xml"
    with open_warehouse(warehouse_path, migrate=True) as con:
        save_feeds(con, [FeedSource(sitemap, kind="sitemap")], "feeds add")
        save_feeds(con, [FeedSource(sitemap, title="A")], "a.opml")  # a list without a kind keeps it
        (stored,) = active_feeds(con)
        assert (stored.kind, stored.cursor_at) == ("sitemap", None)
        done = FeedFetch(sitemap, NOW, NOW, 200, kind="news-sitemap", etag='"1"')
        store_fetches(con, [done], "r1", NOW)
        (stored,) = active_feeds(con)
        assert (stored.kind, stored.cursor_at, stored.etag) == ("news-sitemap", NOW, '"1"')
        later = NOW + timedelta(hours=1)
        store_fetches(con, [replace(done, started_at=later, backlog=True)], "r2", later)
        (stored,) = active_feeds(con)
        assert (stored.cursor_at, stored.etag) == (NOW, None)  # entries were left: no move, full GET next
        store_fetches(con, [FeedFetch(sitemap, later, later, None, error="x", error_reason="timeout")], "r3")
        (stored,) = active_feeds(con)
        assert (stored.kind, stored.cursor_at) == ("news-sitemap", NOW)
        assert [s.kind for s in feed_statuses(con)] == ["news-sitemap"]


def test_feeds_are_upserted_and_listed(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        save_feeds(con, [FeedSource("https://a.example/rss", "A", None, "World")], "one.opml")
        save_feeds(
            con,
            [FeedSource("https://a.example/rss", None, None, None), FeedSource("https://b.example/rss")],
            "two.opml",
        )
        assert [f.url for f in active_feeds(con)] == ["https://a.example/rss", "https://b.example/rss"]
        assert active_feeds(con)[0].title == "A"  # a list without a title does not erase it
        store_fetches(con, [FeedFetch("https://a.example/rss", NOW, NOW, 200, None, 3, 1)], "r")
        statuses = {s.feed_url: s for s in feed_statuses(con)}
        assert statuses["https://a.example/rss"].last_status == 200
        assert statuses["https://b.example/rss"].last_fetch is None


def test_failures_view_has_feed_and_article_failures(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(
            con,
            [art(1), art(2, extraction_status="http_error", extraction_error="HTTP 404", http_status=404)],
            "r",
        )
        store_fetches(
            con, [FeedFetch("https://f.example/rss", NOW, NOW, None, None, 0, 0, "timed out", "timeout")], "r"
        )
        rows = con.execute(
            "select kind, stage, error_class, http_status from failures order by kind"
        ).fetchall()
    assert rows == [("article", "fetch_page", "http_error", 404), ("feed", "fetch_feed", "timeout", None)]
