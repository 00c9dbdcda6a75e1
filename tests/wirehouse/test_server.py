"""The temporary Prefect server wirehouse starts for a run without PREFECT_API_URL: clean end, every record kept."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

from tests.support.bulk_newsroom import BulkNewsroom, servers_of

FEEDS = 300  # one article each: 300 feed task runs, 6 batches and the run's handful of others


def test_a_300_feed_run_on_the_temporary_server_ends_clean_and_keeps_every_task_run(tmp_path):
    prefect_home = tmp_path / "prefect-home"
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "WIREHOUSE_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        "WIREHOUSE_HOST_DELAY": "0",
        "WIREHOUSE_ROBOTS": "off",
    }
    env.pop("PREFECT_API_URL", None)
    with BulkNewsroom(FEEDS, 1).running() as room:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "wirehouse.cli",
                "ingest",
                "--feeds",
                room.opml,
                "--warehouse",
                str(tmp_path / "news.duckdb"),
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for noise in ("Traceback", "CancelledError", "Error", "EventsWorker"):
        assert noise not in output, output
    assert f"entries: {FEEDS} seen, {FEEDS} new" in result.stdout

    # Every task run the client logged as finished is in the server's database, in its final state,
    # read after wirehouse has stopped the server (its records are written when it shuts down).
    logged = re.findall(r"Task run '([^']+)' - Finished in state Completed\(\)", result.stderr)
    con = sqlite3.connect(prefect_home / "prefect.db")
    try:
        stored = con.execute("select name, state_type from task_run").fetchall()
    finally:
        con.close()
    assert len(logged) >= FEEDS + 6
    assert sorted(name for name, _ in stored) == sorted(logged)
    assert {state for _, state in stored} == {"COMPLETED"}
    server_log = (prefect_home / "wirehouse-temporary-server.log").read_text()
    assert "Error" not in server_log and "Traceback" not in server_log, server_log


def test_the_temporary_server_stops_itself_when_wirehouse_is_killed_outright(tmp_path):
    prefect_home = tmp_path / "prefect-home"
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "WIREHOUSE_ALLOW_PRIVATE_HOSTS": "127.0.0.1"}
    env.pop("PREFECT_API_URL", None)
    with BulkNewsroom(4, 4, page_delay=1.0).running() as room:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wirehouse.cli",
                "ingest",
                "--feeds",
                room.opml,
                "--warehouse",
                str(tmp_path / "news.duckdb"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 150
        while not room.pages_served:  # the run is under way, reporting to its server
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        (server,) = servers_of(prefect_home)
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to stop anything (the OOM killer, kill -9)
        proc.wait()
        server.wait(timeout=30)  # it noticed and stopped itself
    assert servers_of(prefect_home) == []
