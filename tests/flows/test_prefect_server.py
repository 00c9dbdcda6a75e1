"""A separately started `prefect server start` (what `make ui` runs): an ingest reports to it completely."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.conftest import free_port


def test_ingest_against_a_running_prefect_server(prefect_server, tmp_path):
    url, env = prefect_server
    env = {**env, "PREFECT_API_URL": url}
    for name in ("WIREHOUSE_ALLOW_PRIVATE_HOSTS", "WIREHOUSE_HOST_DELAY"):
        env.pop(name, None)  # the demo sets its own
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wirehouse.cli",
            "demo",
            "--port",
            str(free_port()),
            "--warehouse",
            str(tmp_path / "w.sqlite"),
        ],
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
