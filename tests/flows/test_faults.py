"""A hostile server: every fault is recorded with its reason, good feeds in the same run are complete."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from flows.ingest import ingest
from flows.maintenance import maintenance
from tests.support.faults import FaultServer
from tests.warehouse.test_datafiles import kill_a_batch_before_its_commit, live_file, rows
from tests.warehouse.test_maintenance import store_batches
from warehouse.connection import connect, lake_of
from warehouse.datafiles import DamagedDataError

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def hostile_env(monkeypatch):
    for name, value in {
        "WIREHOUSE_ALLOW_PRIVATE_HOSTS": "127.0.0.1",  # not "localhost", not 127.0.0.2
        "WIREHOUSE_CONNECT_TIMEOUT": "1",
        "WIREHOUSE_READ_TIMEOUT": "1",
        "WIREHOUSE_TOTAL_TIMEOUT": "3",
        "WIREHOUSE_FEED_RETRIES": "1",
        "WIREHOUSE_RETRY_DELAY": "0",
        "WIREHOUSE_MAX_FEED_BYTES": str(20 * 1024 * 1024),
        "WIREHOUSE_MAX_NEW_PER_FEED": "5",
    }.items():
        monkeypatch.setenv(name, value)


def test_every_fault_is_recorded_and_good_feeds_are_complete(hostile_env, warehouse_path, tmp_path, capsys):
    server = FaultServer()
    feeds = ["/good.rss", "/pagefaults.rss", *FaultServer.FEED_FAULTS, *FaultServer.FEED_SURVIVABLE]
    (tmp_path / "feeds.txt").write_text(
        "\n".join(server.base + f for f in feeds) + "\n" + "http://localhost:9/x.rss\n"
    )
    with server.running():
        started = time.monotonic()
        summary = ingest(feeds=str(tmp_path / "feeds.txt"), warehouse=str(warehouse_path))
        seconds = time.monotonic() - started
    print(f"hostile run took {seconds:.1f} s for {len(feeds) + 1} feeds")  # reported, not asserted
    con = connect(warehouse_path, read_only=True)
    try:
        reasons = dict(con.execute("select feed_url, error_reason from feed_fetches").fetchall())
        articles = dict(con.execute("select url, extraction_status from articles").fetchall())
        failures = con.execute("select count(*) from failures").fetchone()[0]
    finally:
        con.close()
    expected = {server.base + path: reason for path, reason in FaultServer.FEED_FAULTS.items()}
    expected["http://localhost:9/x.rss"] = "blocked_address"  # a name resolving to loopback, not allowed
    assert {url: reasons[url] for url in expected} == expected
    assert reasons[server.base + "/good.rss"] is None
    assert reasons[server.base + "/charset.rss"] is None
    assert reasons[server.base + "/many.rss"] is None
    assert reasons[server.base + "/laughs.rss"] in (None, "not_a_feed")
    # good feed fully ingested, page faults recorded with their reason, 100k-entry feed capped
    assert [articles[f"{server.base}/good/{n}.html"] for n in range(3)] == ["ok"] * 3
    page_status = {
        p: articles[server.base + p]
        for p in ("/page/pdf", "/page/500", "/page/silent", "/page/bomb", "/page/missing")
    }
    assert page_status == {
        "/page/pdf": "not_html",
        "/page/500": "http_error",
        "/page/silent": "fetch_failed",
        "/page/bomb": "fetch_failed",
        "/page/missing": "http_error",
    }
    assert sum(1 for url in articles if "/none/" in url) == 5
    assert summary.feeds_failed == len(expected)
    assert failures >= len(expected) + len(page_status)


def test_maintenance_deletes_orphans_after_the_grace_and_stops_at_a_damaged_file(warehouse_path):
    store_batches(warehouse_path, 3)
    before = rows(warehouse_path)
    data = Path(lake_of(warehouse_path).data_path or "")
    live = set(data.rglob("*.parquet"))
    kill_a_batch_before_its_commit(warehouse_path)
    orphans = set(data.rglob("*.parquet")) - live
    assert orphans

    kept = maintenance(warehouse=str(warehouse_path), export_dir=None)  # the default grace: a day
    assert kept["orphans_deleted"] == 0 and all(f.exists() for f in orphans)
    done = maintenance(warehouse=str(warehouse_path), export_dir=None, orphan_grace_hours=0)
    assert done["orphans_deleted"] == len(orphans) and not any(f.exists() for f in orphans)
    assert rows(warehouse_path) == before

    target = live_file(warehouse_path)
    target.write_bytes(target.read_bytes()[:-100])
    with pytest.raises(DamagedDataError, match=re.escape(str(target))):
        maintenance(warehouse=str(warehouse_path), export_dir=None)
    assert target.exists()  # named, not merged away or deleted
