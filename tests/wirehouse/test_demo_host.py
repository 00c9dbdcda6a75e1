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
