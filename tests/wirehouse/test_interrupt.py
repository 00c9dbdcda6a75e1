"""Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during a real `wirehouse ingest`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.bulk_newsroom import BulkNewsroom, servers_of
from warehouse.connection import connect

FEEDS, ITEMS = 10, 4  # one feed per batch of 4: a stored batch completes a feed
UNACCOUNTED = """select f.feed_url, f.new_entries, count(a.url)
    from feed_fetches f left join articles a on a.run_id = f.run_id and a.feed_url = f.feed_url
    group by all having count(a.url) <> f.new_entries"""


def start_ingest(
    room: BulkNewsroom, warehouse: Path, env: dict[str, str], cwd: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wirehouse.cli",
            "ingest",
            "--feeds",
            room.opml,
            "--warehouse",
            str(warehouse),
            "--batch-size",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**env, "WIREHOUSE_ALLOW_PRIVATE_HOSTS": "127.0.0.1", "WIREHOUSE_HOST_DELAY": "0"},
        start_new_session=True,  # a process group of its own, like a shell job: killpg reaches all of it
    )


def interrupt_mid_run(room, warehouse, env, tmp_path, before=None):
    """Start an ingest, Ctrl-C it once a batch is stored; returns (exit code, seconds to end, stderr)."""
    proc = start_ingest(room, warehouse, env, tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 150
    # Prefect's plain log lines (stderr is no terminal) say when the flow has collected a stored batch.
    while not any(re.search(r"progress: .*articles [1-9]\d*/", line) for line in list(lines)):
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "no batch was stored in time"
        time.sleep(0.05)
    if before:
        before(proc)
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.monotonic()
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    seconds = time.monotonic() - sent
    reader.join(timeout=10)
    return proc.returncode, seconds, "".join(lines)


def check_interrupted(warehouse, returncode, seconds, err):
    assert returncode == 130, err
    assert seconds < 5.0, f"took {seconds:.1f} s to end"
    assert err.splitlines()[-1] == "wirehouse: interrupted", err
    assert err.count("wirehouse: interrupted") == 1, err
    assert "Traceback" not in err and "Error" not in err, err
    con = connect(warehouse, read_only=True)
    try:
        stored = con.execute("select count(*) from articles").fetchone()[0]
        fetches = con.execute("select count(*) from feed_fetches").fetchone()[0]
        unaccounted = con.execute(UNACCOUNTED).fetchall()
    finally:
        con.close()
    assert 0 < stored < FEEDS * ITEMS  # finished batches stayed, the rest is still to do
    assert fetches >= 1  # the feeds whose articles are all stored have their fetch rows
    assert unaccounted == []  # no fetch row claims an article that was not stored


def check_resumed(room, warehouse, env, tmp_path):
    proc = start_ingest(room, warehouse, env, tmp_path)
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    con = connect(warehouse, read_only=True)
    try:
        assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (
            FEEDS * ITEMS,
            FEEDS * ITEMS,
        )
        assert con.execute(UNACCOUNTED).fetchall() == []
    finally:
        con.close()


def test_ctrl_c_on_the_temporary_server_ends_in_seconds_and_stops_the_server(tmp_path):
    prefect_home = tmp_path / "prefect-home"
    env = {**os.environ, "PREFECT_HOME": str(prefect_home)}
    env.pop("PREFECT_API_URL", None)
    warehouse = tmp_path / "news.sqlite"
    servers = []

    def find_server(proc):
        servers.extend(servers_of(prefect_home))
        assert len(servers) == 1
        # Not in the terminal's process group: the Ctrl-C cannot kill it under the run.
        assert os.getpgid(servers[0].pid) != os.getpgid(proc.pid)

    with BulkNewsroom(FEEDS, ITEMS, page_delay=0.4).running() as room:
        returncode, seconds, err = interrupt_mid_run(room, warehouse, env, tmp_path, before=find_server)
    assert not servers[0].is_running()  # wirehouse stopped it on its way out
    check_interrupted(warehouse, returncode, seconds, err)


def test_ctrl_c_with_a_running_prefect_server_and_the_next_run_resumes(prefect_server, tmp_path):
    url, env = prefect_server
    env = {**env, "PREFECT_API_URL": url}
    warehouse = tmp_path / "news.sqlite"
    with BulkNewsroom(FEEDS, ITEMS, page_delay=0.4).running() as room:
        returncode, seconds, err = interrupt_mid_run(room, warehouse, env, tmp_path)
        check_interrupted(warehouse, returncode, seconds, err)
        check_resumed(room, warehouse, env, tmp_path)  # the next run stores the rest, nothing twice
