"""The PostgreSQL catalog restarts in the middle of an ingest: the run retries or fails in one line; nothing half-stored."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bulk_newsroom import BulkNewsroom
from tests.support.chaos import environment, problems, rows
from tests.support.pgcluster import PostgresCluster, available, create_database
from warehouse.connection import lake_of

FEEDS, ITEMS = 4, 40


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A cluster of the test's own, so that restarting it disturbs no other test's catalog."""
    if not available():
        pytest.skip("PostgreSQL binaries are not installed")
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


def _ingest(opml: str, warehouse: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "wirehouse.cli", "ingest", "--feeds", opml, "--warehouse", warehouse]
    argv += ["--batch-size", "5"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)


def _stored(warehouse: str) -> int:
    try:
        return int(rows(warehouse, "select count(*) from articles")[0][0])
    except Exception:  # not created yet, or the catalog is down: keep polling
        return 0


def test_a_catalog_restart_mid_run_fails_in_one_line_or_retries_and_nothing_is_half_stored(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    lake = create_database(cluster.conninfo, "lake")
    env = environment(
        {"WIREHOUSE_HOST_DELAY": "0", "WIREHOUSE_DATA_PATH": str(tmp_path / "shared-data") + os.sep}
    )
    reference = str(tmp_path / "reference" / "news.sqlite")
    room = BulkNewsroom(feeds=FEEDS, items=ITEMS, page_delay=0.05)
    with room.running():
        clean = _ingest(room.opml, reference, tmp_path / "run-reference", env)
        _, err = clean.communicate(timeout=600)
        assert clean.returncode == 0, err[-3000:]

        run = _ingest(room.opml, lake, tmp_path / "run-restarted", env)
        deadline = time.monotonic() + 300
        while _stored(lake) == 0 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert run.poll() is None, "the run ended before the restart; make it longer"
        cluster.stop("fast")  # every client connection is cut, as by a restart or a failover
        time.sleep(2)
        cluster.start()
        _, err = run.communicate(timeout=600)
        print("restarted run:", run.returncode, (err.strip().splitlines() or [""])[-1])
        if run.returncode != 0:
            last = err.strip().splitlines()[-1]
            assert last.startswith("wirehouse: error: "), err[-3000:]
            assert "127.0.0.1" in last or "catalog" in last, last  # names the catalog it lost
            tail = err.rsplit("Finished in state", 1)[-1]
            assert "Traceback" not in tail, tail[-3000:]
        stored = rows(lake, "select count(*), count(distinct url) from articles")[0]
        assert stored[0] == stored[1], "a URL stored twice across the restart"

        again = _ingest(room.opml, lake, tmp_path / "run-again", env)
        _, err = again.communicate(timeout=600)
        assert again.returncode == 0, err[-3000:]
    search_dir = lake_of(lake, data_path=str(tmp_path / "shared-data") + os.sep).search_dir
    assert problems(lake, reference, search_dir=search_dir, shared=True) == []
