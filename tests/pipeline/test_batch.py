"""One batch from page download to the warehouse: a real HTTP server on loopback and a real DuckDB file."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.records import FeedEntry
from core.settings import Settings
from pipeline.batch import run_batch
from pipeline.schedule import KEEP_BUSY, BatchQueue
from tasks.http import HttpClient
from warehouse.connection import WarehouseError, hold_warehouse, open_warehouse

# A dpa-style wire story of our own (tests/fixtures/pages).
PAGE = (Path(__file__).resolve().parent.parent / "fixtures" / "pages" / "wire_de.html").read_bytes()


def _settings(path, memory_mb):
    return Settings(
        warehouse_path=path,
        allow_private_hosts=frozenset({"127.0.0.1", "localhost"}),
        host_delay=0,
        robots=False,
        warehouse_memory_mb=memory_mb,
    )


def _batch(httpserver, path, memory_mb):
    httpserver.expect_request("/wire.html").respond_with_data(PAGE, content_type="text/html; charset=utf-8")
    url = httpserver.url_for("/wire.html")
    entries = [FeedEntry(feed_url=httpserver.url_for("/rss"), url=url, link=url, guid="g1")]
    settings = _settings(path, memory_mb)
    # A thread stands in for the worker processes: the same process_pages runs either way.
    with HttpClient(settings) as client, ThreadPoolExecutor(1) as pool, hold_warehouse(path, memory_mb):
        return run_batch(client, pool, path, entries, settings, "run-1")


def test_a_batch_is_fetched_extracted_and_stored(httpserver, tmp_path):
    path = tmp_path / "news.sqlite"
    with open_warehouse(path, migrate=True):
        pass
    assert _batch(httpserver, path, 256) == {"ok": 1}
    with open_warehouse(path) as con:
        assert con.execute("SELECT count(*), min(language) FROM articles").fetchone() == (1, "de")


def test_a_batch_that_outgrows_the_warehouse_memory_names_the_setting_and_stores_nothing(
    httpserver, tmp_path
):
    path = tmp_path / "news.sqlite"
    with open_warehouse(path, migrate=True):
        pass
    # 1 MiB is below what the settings allow (64): it stands in for a batch too big for its limit.
    with pytest.raises(WarehouseError, match="WIREHOUSE_WAREHOUSE_MEMORY_MB=1 MiB"):
        _batch(httpserver, path, 1)
    with open_warehouse(path) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (0,)


def _article(n, **fields):
    from datetime import UTC, datetime

    from tasks import wirecopy
    from tests.support.factories import make_article

    text = f"Meldung {n}: Der Rat tagte am Donnerstag in Brüssel über die Haushaltslage des Landes. " * 4
    base = {
        "url": f"https://news.example/{n}",
        "link": f"https://news.example/{n}",
        "feed_url": "https://news.example/rss",
        "fingerprint": wirecopy.fingerprint(text),
        "published_at": datetime(2026, 11, 30, 8, tzinfo=UTC),
    }
    return make_article(text, **{**base, **fields})


def test_one_article_the_warehouse_refuses_is_isolated_and_the_rest_of_the_batch_lands(tmp_path):
    from datetime import UTC, datetime

    from pipeline.batch import store_isolating
    from warehouse.articles import store_articles

    path = tmp_path / "news.sqlite"
    # Year 1 is what a real page stated; validation drops it, this stands for what validation missed:
    # the wire-copy window arithmetic overflows on it.
    poison = _article(4, published_at=datetime(1, 1, 1, tzinfo=UTC))
    batch = [_article(n) for n in range(1, 4)] + [poison] + [_article(n) for n in range(5, 9)]
    with open_warehouse(path, migrate=True) as con:
        with pytest.raises(OverflowError):
            store_articles(con, batch, "run-0")  # the batch as a whole fails...
        stored = store_isolating(lambda part: store_articles(con, part, "run-1"), batch)
        rows = dict(con.execute("SELECT url, extraction_status FROM articles").fetchall())
        error = con.execute(
            "SELECT extraction_error FROM articles WHERE extraction_status = 'error'"
        ).fetchone()
    assert [a.url for a in stored] == [a.url for a in batch]  # ...isolated, every article is a row
    assert rows == {a.url: ("error" if a is poison else "ok") for a in batch}
    assert "OverflowError" in error[0]


def test_a_warehouse_error_is_not_split_but_raised(tmp_path):
    from pipeline.batch import store_isolating
    from warehouse.connection import WarehouseMemoryError

    calls = []

    def store(part):
        calls.append(len(part))
        raise WarehouseMemoryError("out of memory")

    with pytest.raises(WarehouseMemoryError):
        store_isolating(store, [_article(n) for n in range(4)])
    assert calls == [4]


def _entries(feed, count):
    return [FeedEntry(feed_url=feed, url=f"{feed}/{n}", link=f"{feed}/{n}", guid=None) for n in range(count)]


def test_a_batch_queue_fills_batches_across_feeds_and_never_exceeds_the_in_flight_bound():
    waiting = BatchQueue(size=4, max_in_flight=3)
    waiting.add(_entries("a", 3))
    waiting.add(_entries("b", 3))
    first = waiting.take(in_flight=KEEP_BUSY, more_coming=True)
    assert [e.url for e in first] == ["a/0", "a/1", "a/2", "b/0"]  # entries of two feeds, in order
    assert waiting.take(in_flight=3, more_coming=False) is None  # the bound holds, also at the end
    assert len(waiting) == 2


def test_a_partial_batch_waits_only_while_the_pool_is_busy_and_more_entries_are_coming():
    waiting = BatchQueue(size=4, max_in_flight=4)
    waiting.add(_entries("a", 2))
    assert waiting.take(in_flight=KEEP_BUSY, more_coming=True) is None  # busy: wait for it to fill
    assert len(waiting.take(in_flight=KEEP_BUSY - 1, more_coming=True)) == 2  # the pool would idle
    waiting.add(_entries("b", 1))
    assert [e.url for e in waiting.take(in_flight=3, more_coming=False)] == ["b/0"]  # nothing more comes
    assert waiting.take(in_flight=0, more_coming=False) is None  # empty
