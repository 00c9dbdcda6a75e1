"""The temporary Prefect server wirehouse starts for a run without PREFECT_API_URL: clean end, every record kept."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

from tests.bulk_newsroom import BulkNewsroom

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
