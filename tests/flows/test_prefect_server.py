"""A separately started `prefect server start` (what `make ui` runs): an ingest reports to it completely."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def prefect_server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("prefect server did not start within 120 s")
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ingest_against_a_running_prefect_server(prefect_server, tmp_path):
    url, env = prefect_server
    env = {**env, "PREFECT_API_URL": url}
    for name in ("WIREHOUSE_ALLOW_PRIVATE_HOSTS", "WIREHOUSE_HOST_DELAY"):
        env.pop(name, None)  # the demo sets its own
    result = subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", "demo", "--warehouse", str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Starting temporary server" not in result.stderr  # it used the running server

    def post(path, body):
        response = httpx.post(f"{url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    (flow_run,) = post("/flow_runs/filter", {"limit": 5})  # the demo's one ingest
    assert flow_run["state_type"] == "COMPLETED"
    deadline = time.monotonic() + 60
    final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    while True:  # the server's task-run recorder writes events in batches, states a moment after runs
        task_runs = post("/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run["id"]]}}, "limit": 200})
        settled = all(t["state_type"] in final for t in task_runs)
        if (len(task_runs) >= 11 and settled) or time.monotonic() > deadline:
            break
        time.sleep(1)
    for prefix in ("prepare-warehouse", "fetch-feed", "ingest-batch", "record-fetches", "publish-report"):
        assert any(t["name"].startswith(prefix) for t in task_runs), prefix
    assert all(t["state_type"] == "COMPLETED" for t in task_runs)
    artifacts = post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}}})
    assert {a["key"] for a in artifacts} >= {"ingest-feeds", "ingest-failures", "ingest-summary"}
