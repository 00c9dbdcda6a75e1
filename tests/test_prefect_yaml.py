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
