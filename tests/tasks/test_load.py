"""The pure planning of a run: new entries per feed, batches."""

from dataclasses import replace
from datetime import UTC, datetime

from tasks.load import batched, plan_new_entries
from tasks.records import FeedEntry, FeedFetch, FeedResult

NOW = datetime(2024, 10, 28, 15, 0, tzinfo=UTC)


def entry(n, feed="https://x.example/rss", guid=None):
    return FeedEntry(
        feed_url=feed, url=f"https://x.example/{n}", link=f"https://x.example/{n}", guid=guid or f"g{n}"
    )


def test_plan_new_entries_dedups_across_feeds_and_caps_per_feed():
    f = FeedFetch(feed_url="a", started_at=NOW, finished_at=NOW, entries_seen=3)
    results = [
        FeedResult(f, (entry(1, "a"), entry(2, "a"), entry(3, "a"))),
        FeedResult(replace(f, feed_url="b"), (entry(2, "b"), entry(4, "b"))),
    ]
    planned = plan_new_entries(results, known_urls={"https://x.example/1"}, max_new_per_feed=1)
    assert [[e.url[-1] for e in r.entries] for r in planned] == [["2"], ["4"]]
    assert [r.fetch.new_entries for r in planned] == [1, 1]
    # feed a had 3 still new after the known one; b's entry 2 was taken by a: nothing left behind there
    assert [r.fetch.backlog for r in planned] == [True, False]


def test_batched():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batched([], 3)) == []
