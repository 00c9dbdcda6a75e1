"""The demo is self-consistent: the sample's URLs name no port, and the runs after `make run` fetch it.

`wirehouse demo` on port A and then on port B stores the 23 sample articles once; a plain
`wirehouse ingest` afterwards fetches the sample feeds while the newsroom is served (on the port the
lake remembers, with no WIREHOUSE_ALLOW_PRIVATE_HOSTS), and, once it is stopped, fails per feed with
`not_served` naming the stopped server — never `blocked_address`, and never backing the feeds off.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import free_port
from tests.wirehouse.test_cli import wirehouse
from wirehouse.demo import DEMO_BASE, serve_newsroom

# No allowance from the environment (tests/conftest.py sets one for every other test): the demo's own.
NO_ALLOWANCE = {"WIREHOUSE_ALLOW_PRIVATE_HOSTS": "", "WIREHOUSE_HOST_DELAY": "", "PREFECT_API_URL": ""}


def query(lake, sql):
    result = wirehouse("query", sql, "--format", "json", "--warehouse", str(lake), env=NO_ALLOWANCE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demoed(tmp_path_factory):
    """A lake after `wirehouse demo` on port A, then on port B; with the article rows after each."""
    folder = tmp_path_factory.mktemp("demo")
    lake = folder / "news.sqlite"
    rows = []
    ports = [free_port()]
    while len(ports) < 2:  # two different ports: the point of the test
        port = free_port()
        if port != ports[0]:
            ports.append(port)
    for port in ports:
        result = wirehouse(
            "demo", "--port", str(port), "--warehouse", str(lake), env=NO_ALLOWANCE, cwd=folder
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"sample newsroom serving at {DEMO_BASE} on 127.0.0.1:{port}" in result.stdout
        rows.append(query(lake, "select url, feed_url from articles order by url"))
    return lake, ports, rows


def test_a_demo_on_another_port_stores_nothing_twice(demoed):
    _lake, ports, (first, second) = demoed
    assert len(first) == 23 and second == first
    for row in first:
        assert row["url"].startswith(DEMO_BASE + "/") and row["feed_url"].startswith(DEMO_BASE + "/feeds/")
        assert not any(str(port) in row["url"] for port in ports)


def test_after_the_demo_a_plain_ingest_fetches_the_sample_where_the_lake_says_it_is_served(demoed):
    lake, ports, (_, stored) = demoed
    assert query(lake, "select port from demo_newsroom") == [{"port": ports[-1]}]
    with serve_newsroom(port=ports[-1], public_base=DEMO_BASE):  # `wirehouse demo --serve --port B`
        result = wirehouse("ingest", "--warehouse", str(lake), env=NO_ALLOWANCE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "feeds: 3 fetched, 0 failed" in result.stdout
    assert "blocked_address" not in result.stdout + result.stderr
    assert query(lake, "select url, feed_url from articles order by url") == stored


def test_after_the_demo_stopped_a_plain_ingest_names_the_stopped_server_per_feed(demoed):
    lake, ports, _ = demoed
    for _run in range(2):  # twice: a stopped demo server never backs the sample's feeds off
        result = wirehouse("ingest", "--warehouse", str(lake), env=NO_ALLOWANCE)
        assert result.returncode == 1
        assert "Traceback" not in result.stdout + result.stderr
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("wirehouse: error: no feed could be fetched: 3 of 3 failed with not_served")
        assert f"nothing serves newsroom.localhost on 127.0.0.1:{ports[-1]}" in error
        assert f"wirehouse demo --serve --port {ports[-1]}" in error
        assert "blocked_address" not in result.stdout + result.stderr
    fetches = query(lake, "select error_reason from feed_fetches where error is not null")
    assert {f["error_reason"] for f in fetches} == {"not_served"}
    health = query(lake, "select consecutive_failures, next_fetch_at from feeds")
    assert health == [{"consecutive_failures": 0, "next_fetch_at": None}] * 3


OLD_BASE = "http://127.0.0.1:8765"  # where demos before migration 009 put the sample
SAMPLE_URLS_MIGRATION = 12  # warehouse/migrations/012_sample_urls.sql: made undone, it runs again
# What such a demo wrote differs from today's only in the base: made from today's lake by swapping it.
_TO_OLD = {
    "article_store": ("url", "feed_url", "link", "guid", "final_url", "image", "story_id"),
    "raw_pages": ("url",),
    "quotes": ("article_url",),
    "story_keys": ("url",),
    "feed_fetch_log": ("feed_url", "final_url"),
    "feeds": ("feed_url", "html_url", "imported_from"),
}


def _swap(column: str) -> str:
    return f"{column} = replace({column}, '{DEMO_BASE}/', '{OLD_BASE}/')"


def make_old(lake, *, keep_new: bool = False) -> None:
    """Turn a demo's lake into one an older demo left (``keep_new``: holding the sample both ways)."""
    from warehouse.connection import open_warehouse

    with open_warehouse(lake) as con:
        con.execute("begin")
        for table, columns in _TO_OLD.items():
            if keep_new:
                copies = ", ".join(f"replace({c}, '{DEMO_BASE}/', '{OLD_BASE}/') as {c}" for c in columns)
                con.execute(f"insert into {table} select * replace ({copies}) from {table}")
            else:
                con.execute(f"update {table} set {', '.join(_swap(c) for c in columns)}")
        con.execute("delete from demo_newsroom")
        con.execute("delete from schema_migrations where version = ?", [SAMPLE_URLS_MIGRATION])
        con.execute("commit")


def everything_with_the_old_base(lake) -> list[str]:
    found = []
    for table, columns in _TO_OLD.items():
        for column in columns:
            sql = f"select count(*) as n from {table} where contains({column}, '127.0.0.1:8765')"
            if query(lake, sql)[0]["n"]:
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def demo_lake(tmp_path):
    lake = tmp_path / "news.sqlite"
    result = wirehouse(
        "demo", "--port", str(free_port()), "--warehouse", str(lake), env=NO_ALLOWANCE, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return lake


def test_a_demo_on_the_lake_of_an_older_demo_stores_nothing_twice(demo_lake, tmp_path):
    today = query(demo_lake, "select url, title from articles order by url")
    quotes = query(demo_lake, "select count(*) as n from quotes")
    make_old(demo_lake)
    assert len(everything_with_the_old_base(demo_lake)) == 15  # really an old lake now
    result = wirehouse(
        "demo", "--port", str(free_port()), "--warehouse", str(demo_lake), env=NO_ALLOWANCE, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "entries: 24 seen, 0 new" in result.stdout
    assert query(demo_lake, "select url, title from articles order by url") == today
    assert query(demo_lake, "select count(*) as n from quotes") == quotes
    assert [f["feed_url"] for f in query(demo_lake, "select feed_url from feeds order by 1")] == [
        f"{DEMO_BASE}/feeds/{name}" for name in ("culture.rdf", "inland.rss", "world.atom")
    ]
    assert everything_with_the_old_base(demo_lake) == []
    hits = wirehouse(
        "search", "Nato Ostflanke", "--format", "json", "--warehouse", str(demo_lake), env=NO_ALLOWANCE
    )
    assert hits.returncode == 0, hits.stderr
    assert all(hit["url"].startswith(DEMO_BASE + "/") for hit in json.loads(hits.stdout))


def test_an_older_demo_lake_that_got_the_sample_twice_keeps_it_once(demo_lake):
    from warehouse.connection import open_warehouse

    today = query(demo_lake, "select url, title from articles order by url")
    make_old(demo_lake, keep_new=True)
    assert len(query(demo_lake, "select url from articles")) == 2 * len(today)
    with open_warehouse(demo_lake, migrate=True):
        pass
    assert query(demo_lake, "select url, title from articles order by url") == today
    assert len(query(demo_lake, "select feed_url from feeds")) == 3
    assert everything_with_the_old_base(demo_lake) == []


def test_a_loopback_server_of_ones_own_on_port_8765_is_left_alone(tmp_path):
    from tests.warehouse.test_articles import art
    from warehouse.articles import store_articles
    from warehouse.connection import open_warehouse

    lake = tmp_path / "news.sqlite"
    with open_warehouse(lake, migrate=True) as con:
        store_articles(con, [art(1, url=f"{OLD_BASE}/mine.html")], "r")
        con.execute("delete from schema_migrations where version = ?", [SAMPLE_URLS_MIGRATION])
    with open_warehouse(lake, migrate=True):
        pass
    assert query(lake, "select url from articles") == [{"url": f"{OLD_BASE}/mine.html"}]
