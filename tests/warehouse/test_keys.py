"""The key index: lookups find every stored URL, on both catalogs, whatever changed the lake and however."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from tasks import wirecopy
from tests.warehouse.test_articles import NOW, WIRE, art, entry
from warehouse import keys
from warehouse.articles import known_urls, store_articles
from warehouse.connection import open_warehouse
from warehouse.lake import lake_of
from warehouse.staging import merge_staged

ROOT = Path(__file__).resolve().parent.parent.parent


def stored_urls(con):
    return {row[0] for row in con.execute("select url from article_store").fetchall()}


def test_every_stored_url_is_known_by_url_and_by_guid(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        for batch in range(4):
            store_articles(con, [art(batch * 10 + n) for n in range(10)], f"run-{batch}")
        everything = [entry(n) for n in range(40)]
        assert known_urls(con, everything) == stored_urls(con)
        # Another URL with a stored GUID of the same feed is the same article; in another feed it is not.
        moved = entry(3, guid="g3")
        moved = type(moved)(feed_url=moved.feed_url, url="https://x.example/moved", link="l", guid="g3")
        elsewhere = type(moved)(
            feed_url="https://y.example/rss", url="https://x.example/other", link="l", guid="g3"
        )
        assert known_urls(con, [moved, elsewhere]) == {"https://x.example/moved"}
        assert known_urls(con, [entry(99)]) == set()


def test_the_index_is_beside_the_lake_and_rebuilt_when_it_is_gone(warehouse_path):
    lake = lake_of(warehouse_path)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2)], "run-1")
        assert known_urls(con, [entry(1), entry(3)]) == {"https://x.example/1"}
        assert keys.index_path(con) == lake.keys
    assert lake.keys.is_file()
    lake.keys.unlink()
    for leftover in lake.keys.parent.glob(lake.keys.name + "-*"):
        leftover.unlink()
    with open_warehouse(warehouse_path) as con:
        assert known_urls(con, [entry(1), entry(2), entry(3)]) == {
            "https://x.example/1",
            "https://x.example/2",
        }


def test_changes_made_by_others_are_caught_up(warehouse_path, tmp_path):
    """Another machine's index (its own file) learns what this one stored, deleted and re-processed."""
    other = tmp_path / "other.keys"
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2)], "run-1")
        assert keys.catch_up(con, other) == 2  # built from the lake
        store_articles(con, [art(3)], "run-2")
        con.execute("DELETE FROM article_store WHERE url = 'https://x.example/2'")  # a user, by SQL
        assert keys.catch_up(con, other) == 2  # one insert, one delete
        assert keys.catch_up(con, other) == 0  # up to date: nothing read
        assert set(keys.stored(other, [f"https://x.example/{n}" for n in (1, 2, 3)])) == {
            "https://x.example/1",
            "https://x.example/3",
        }


def test_a_lake_made_anew_under_the_same_name_never_inherits_the_old_keys(warehouse_path):
    lake = lake_of(warehouse_path)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1)], "run-1")
        assert known_urls(con, [entry(1)]) == {"https://x.example/1"}
    keep = lake.keys.read_bytes()
    lake.sqlite.unlink()
    shutil.rmtree(lake.data_path)
    lake.keys.write_bytes(keep)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(2)], "run-1")
        # The old index's snapshot ids may well exist in the new lake; its times do not.
        assert known_urls(con, [entry(1), entry(2)]) == {"https://x.example/2"}


def test_a_retryable_failure_is_due_after_its_pause(warehouse_path):
    failed = art(5, extraction_status="http_error", text=None, retryable=True)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [failed], "run-1")
        assert known_urls(con, [entry(5)], now=NOW + timedelta(minutes=14)) == {"https://x.example/5"}
        assert known_urls(con, [entry(5)], now=NOW + timedelta(minutes=15)) == set()
        store_articles(con, [art(5)], "run-2")  # the retry succeeded: settled for good
        assert known_urls(con, [entry(5)], now=NOW + timedelta(days=30)) == {"https://x.example/5"}
        assert con.execute("select count(*), max(fetch_attempts) from article_store").fetchone() == (1, 2)


_WRITER = textwrap.dedent(
    """
    import contextlib, sys
    from tests.warehouse.test_articles import art
    from warehouse.lake import lake_of
    from warehouse.locks import warehouse_lock
    from warehouse.staging import save_batch

    first, step = int(sys.argv[1]), int(sys.argv[2])
    for batch in range(4):
        # One writer at a time stores into an embedded lake (its run lock); a shared one's stage at once.
        with warehouse_lock({warehouse!r}, 300) if lake_of({warehouse!r}).embedded else contextlib.nullcontext():
            # Overlapping ranges: every writer also brings URLs another one brings.
            save_batch({warehouse!r}, [art(n) for n in range(first + batch * step, first + batch * step + 8)], "w")
    """
)


@pytest.mark.parametrize("catalog", ["embedded", "postgres"])
def test_many_writers_store_each_url_once_and_every_one_is_known(catalog, request, tmp_path, monkeypatch):
    if catalog == "postgres":
        monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "data") + os.sep)
        warehouse = request.getfixturevalue("postgres_catalog")
    else:
        warehouse = str(request.getfixturevalue("warehouse_path"))
    with open_warehouse(warehouse, migrate=True):
        pass
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER.format(warehouse=warehouse), str(first), "5"], cwd=ROOT, env=env
        )
        for first in (0, 3, 6)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    if catalog == "postgres":
        merge_staged(warehouse)
    with open_warehouse(warehouse) as con:
        total, distinct = con.execute("select count(*), count(distinct url) from article_store").fetchone()
        assert total == distinct == len({n for first in (0, 3, 6) for n in range(first, first + 23)})
        everything = [entry(n) for n in range(40)]
        assert known_urls(con, everything) == stored_urls(con)
        fresh = tmp_path / "fresh.keys"  # and an index built from nothing agrees with the one kept up
        keys.catch_up(con, fresh)
        assert set(keys.stored(fresh, [e.url for e in everything])) == stored_urls(con)


@pytest.mark.parametrize("damage", [b"not a database at all", b""])
def test_a_damaged_index_is_made_anew(warehouse_path, damage):
    lake = lake_of(warehouse_path)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2)], "run-1")
        known_urls(con, [entry(1)])
        lake.keys.write_bytes(damage + lake.keys.read_bytes()[len(damage) : 100])
        assert known_urls(con, [entry(1), entry(2), entry(3)]) == {
            "https://x.example/1",
            "https://x.example/2",
        }


def index_rows(path):
    """The index's articles and band keys, by URL (row ids depend on the order rows came in)."""
    with sqlite3.connect(path) as db:
        articles = db.execute(
            "select url, feed_url, guid, retryable, attempts, fetched_us, seen_us, story_id, fingerprint from article"
        ).fetchall()
        bands = db.execute("select b.key, a.url from band b join article a on a.id = b.article").fetchall()
    return sorted(articles), sorted(bands)


def test_what_a_run_records_equals_what_the_lake_holds(warehouse_path, tmp_path):
    """The rows each commit hands the index directly match an index built from the lake after it."""
    lake = lake_of(warehouse_path)
    copy = wirecopy.fingerprint(WIRE)
    batches = [
        ([art(1, fingerprint=copy), art(2, retryable=True, extraction_status="http_error")], False),
        # a wire copy published earlier (the story is renamed to it), the failure retried, a feedless page
        (
            [art(3, fingerprint=copy, published_at=NOW - timedelta(hours=2)), art(2), art(4, feed_url="")],
            False,
        ),
        ([art(1, title="again", fingerprint=copy)], True),  # re-processing
        ([art(1, title="settled")], False),  # settled: nothing written
    ]
    with open_warehouse(warehouse_path, migrate=True) as con:
        for n, (batch, replace) in enumerate(batches):
            store_articles(con, batch, f"r{n}", replace=replace)
            with sqlite3.connect(lake.keys) as db:  # recorded as it was committed, no change feed read
                assert db.execute("select snapshot from mark").fetchone() == (keys._current(con),)
            rebuilt = tmp_path / f"rebuilt-{n}.keys"
            keys.catch_up(con, rebuilt)
            assert index_rows(lake.keys) == index_rows(rebuilt)
        story = "select story_id from article_store where url = 'https://x.example/1'"
        assert con.execute(story).fetchone() == ("https://x.example/3",)
    articles, bands = index_rows(lake.keys)
    assert (
        len(articles) == 4 and len(bands) == 2 * 64
    )  # the two wire copies are long enough for a fingerprint
