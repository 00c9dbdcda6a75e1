"""prefect.yaml is valid against the code: every entrypoint imports, parameters match, schedules parse."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def load_flow(entrypoint: str) -> Flow:
    path, name = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location(f"entry_{Path(path).stem}", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_entrypoint_imports_and_parameters_match(deployment):
    flow = load_flow(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    accepted = set(inspect.signature(flow.fn).parameters)
    assert set(deployment.get("parameters") or {}) <= accepted


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_schedules_are_valid_and_timezoned(deployment):
    from prefect.client.schemas.schedules import CronSchedule

    for schedule in deployment.get("schedules") or []:
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert deployment["work_pool"]["name"]


def test_ingest_runs_every_fifteen_minutes():
    (ingest,) = [d for d in DEPLOYMENTS if d["name"] == "ingest"]
    assert ingest["schedules"][0]["cron"] == "*/15 * * * *"


def test_the_documented_worker_may_fetch_the_sample_newsroom():
    """Scheduled runs of the sample newsroom need it served, as docs/operations.md shows, and no host allowance."""
    from core.settings import settings_from_mappings
    from tasks.http import is_allowed_host
    from wirehouse.demo import DEMO_HOST, DEMO_PORT

    operations = (ROOT / "docs" / "operations.md").read_text()
    scheduled = operations[operations.index("## Scheduled runs") :].split("\n## ")[0]
    assert f"127.0.0.1:{DEMO_PORT}" in scheduled and "wirehouse demo --serve" in scheduled
    assert DEMO_HOST in scheduled
    commands = [line for line in scheduled.splitlines() if "prefect worker start" in line]
    assert ".venv/bin/prefect worker start --pool wirehouse" in commands
    # The allowance prefect.yaml shows is for other private hosts: the sample's host never needs one.
    (allowed,) = [
        line
        for line in (ROOT / "prefect.yaml").read_text().splitlines()
        if "prefect worker start" in line and "WIREHOUSE_ALLOW_PRIVATE_HOSTS=" in line
    ]
    env = dict(word.split("=", 1) for word in allowed.replace("#", " ").split() if "=" in word)
    settings = settings_from_mappings({}, env)
    assert not is_allowed_host(DEMO_HOST, settings.allow_private_hosts)


def test_a_prefect_server_started_in_the_project_root_sends_no_telemetry():
    # Without internet the telemetry service logs "ERROR ... Failed to send telemetry" on every start of
    # the recipe's plain `prefect server start`; prefect.toml in the project root turns it off.
    import os
    import subprocess
    import sys

    env = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from prefect.settings import get_current_settings as s; print(s().server.analytics_enabled)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_operations_counts_the_deployments_it_describes():
    operations = (ROOT / "docs" / "operations.md").read_text()
    words = {4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    assert f"declares {words[len(DEPLOYMENTS)]} deployments" in operations
