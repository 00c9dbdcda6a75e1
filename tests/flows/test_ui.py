"""What the Prefect UI shows of a run: a failed fetch in red, the summary in the run's state, linked artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from flows.ingest import ingest
from pipeline.report import summary_line
from wirehouse.cli import TEMPORARY_UI_NOTE


def _final_task_runs(run_id, expected):
    """The run's task runs once the server's recorder has written their final states (bounded wait)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 60
        while True:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            final = all(t.state and t.state.is_final() for t in task_runs)
            if (len(task_runs) >= expected and final) or time.monotonic() > deadline:
                return task_runs
            time.sleep(0.5)


@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_fetch_is_a_red_task_and_the_run_carries_its_summary_line(
    newsroom, warehouse_path, tmp_path
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    nope = f"{newsroom.base}/feeds/nope.rss"
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text(f"{newsroom.base}/feeds/inland.rss\n{nope}\n")
    state = ingest(feeds=str(feed_list), warehouse=str(warehouse_path), return_state=True)

    assert state.is_completed()  # one bad feed never fails the run, nor changes what it returns
    summary = state.result()
    assert (summary.feeds, summary.feeds_failed) == (2, 1)
    assert state.message == summary_line(summary)
    assert state.message.startswith("feeds 1/2, articles ")
    assert "feed:http_404 1" in state.message

    # prepare, read-feed-list, import-feeds, list-feeds, 2 fetches, the batches, record, report
    task_runs = _final_task_runs(summary.run_id, 4 + 2 + summary.batches + 2)
    fetches = {
        t.name.removeprefix("fetch-feed "): t.state for t in task_runs if t.name.startswith("fetch-feed ")
    }
    assert fetches[nope].type.value == "FAILED" and fetches[nope].name == "Failed fetch"
    assert fetches[nope].message == "HTTP 404"
    assert fetches[f"{newsroom.base}/feeds/inland.rss"].is_completed()
    others = [t for t in task_runs if not t.name.startswith("fetch-feed ")]
    assert others and all(t.state.is_completed() for t in others)

    with get_client(sync_client=True) as client:  # the report, found by key, belongs to this run
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-summary"]))
        )
    assert str(summary.run_id) in {str(a.flow_run_id) for a in artifacts}


def test_a_run_on_the_temporary_server_says_its_ui_is_gone_and_how_to_keep_one(newsroom, tmp_path):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wirehouse.cli",
            "ingest",
            "--feeds",
            newsroom.opml,
            "--warehouse",
            str(tmp_path / "news.sqlite"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == f"wirehouse: {TEMPORARY_UI_NOTE}"
    assert "make ui" in TEMPORARY_UI_NOTE and "PREFECT_API_URL" in TEMPORARY_UI_NOTE
    assert "feeds: 3 fetched, 0 failed" in result.stdout  # the summary as before


@pytest.mark.usefixtures("prefect_harness")
def test_a_fetch_out_of_retries_is_logged_in_one_line(newsroom, warehouse_path, tmp_path):
    import logging

    dead = "http://127.0.0.1:9/dead.rss"  # refused: transient, retried, then given up
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text(f"{newsroom.base}/feeds/inland.rss\n{dead}\n")
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    task_logger = logging.getLogger("prefect.task_runs")
    task_logger.addHandler(handler)
    try:
        summary = ingest(feeds=str(feed_list), warehouse=str(warehouse_path))
    finally:
        task_logger.removeHandler(handler)
    assert summary.failures_by_reason.get("feed:connect") == 1
    assert not [line for line in seen if "Retries are exhausted" in line], seen
    assert [line for line in seen if line.startswith("Finished in state Failed fetch('cannot connect")]
