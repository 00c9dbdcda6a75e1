"""Two ingests at once into one lake with a PostgreSQL catalog: no URL twice, no article lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.loadsite import newsroom
from warehouse.connection import connect

ROOT = Path(__file__).resolve().parent.parent.parent
FEEDS = 8
ITEMS = 12


def start_ingest(feed_list: str, warehouse: str, data: Path, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREHOUSE_")}
    env.update(
        WIREHOUSE_ALLOW_PRIVATE_HOSTS="127.0.0.1",
        WIREHOUSE_HOST_DELAY="0",
        WIREHOUSE_ROBOTS="off",
        WIREHOUSE_DATA_PATH=str(data) + os.sep,
        PYTHONPATH=str(ROOT),
        # a shared, busy machine can take longer than Prefect's 20 s to start its temporary server
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    env.pop("PREFECT_API_URL", None)
    cwd.mkdir()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wirehouse.cli",
            "ingest",
            "--feeds",
            feed_list,
            "--warehouse",
            warehouse,
            "--batch-size",
            "5",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=env,
    )


def test_two_ingests_with_overlapping_feeds_store_each_url_once(postgres_catalog, tmp_path):
    data = tmp_path / "shared-data"
    with newsroom(FEEDS, ITEMS) as base:
        # feeds 0-5 and 2-7: four feeds (48 pages) are in both lists
        first = start_ingest(f"{base}/feeds.opml?first=0&last=5", postgres_catalog, data, tmp_path / "a")
        second = start_ingest(f"{base}/feeds.opml?first=2&last=7", postgres_catalog, data, tmp_path / "b")
        outputs = [first.communicate(timeout=900)[0], second.communicate(timeout=900)[0]]
    assert [first.returncode, second.returncode] == [0, 0], "\n=====\n".join(o[-6000:] for o in outputs)
    con = connect(postgres_catalog, read_only=True)
    try:
        urls = [r[0] for r in con.execute("select url from articles").fetchall()]
        feeds = con.execute("select count(*), count(distinct feed_url) from feeds").fetchone()
        fetches = con.execute("select count(*) from feed_fetches").fetchone()[0]
    finally:
        con.close()
    assert len(urls) == len(set(urls))  # no URL twice
    assert len(urls) == FEEDS * ITEMS  # no article lost
    assert feeds == (FEEDS, FEEDS)
    assert fetches == 12  # each ingest fetched its six feeds
    assert all(p.suffix == ".parquet" for p in data.rglob("*") if p.is_file())
