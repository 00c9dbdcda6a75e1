from datetime import UTC, datetime

import pytest

from bench.speed import DEFAULT_CORPUS, main, subset_corpus
from bench.speed_ingest import IngestRun, task_kinds
from bench.speed_limit import LimitResult
from bench.speed_peer import trafilatura_config
from bench.speed_report import format_table, ratio_lines

needs_corpus = pytest.mark.skipif(
    not (DEFAULT_CORPUS / "truth.jsonl").is_file(), reason="../shared/corpora absent"
)


def test_task_runs_are_grouped_by_task_name():
    origin = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    tasks = [
        ("prepare-warehouse-3f0", "2026-01-01 00:00:00.500000", "2026-01-01 00:00:01"),
        ("fetch-feed http://127.0.0.1:1/feeds/c0-a.rss", "2026-01-01 00:00:02", "2026-01-01 00:00:03"),
        ("fetch-feed http://127.0.0.1:1/feeds/c0-b.rss", "2026-01-01 00:00:02", "2026-01-01 00:00:04"),
        ("load-batch 1", "2026-01-01 00:00:05", "2026-01-01 00:00:06"),
        ("load-batch 2", None, None),  # never ran: not counted
    ]
    kinds = {kind.kind: kind for kind in task_kinds(tasks, origin)}
    assert list(kinds) == ["prepare-warehouse", "fetch-feed", "load-batch"]
    assert kinds["fetch-feed"].runs == 2
    assert kinds["fetch-feed"].busy_seconds == pytest.approx(3.0)
    assert (kinds["fetch-feed"].first_start, kinds["fetch-feed"].last_end) == pytest.approx((2.0, 4.0))
    assert (kinds["fetch-feed"].early_mean, kinds["fetch-feed"].late_mean) == pytest.approx((1.0, 2.0))


def test_peer_configuration_allows_loopback_without_delay(tmp_path):
    text = trafilatura_config(tmp_path / "t.cfg").read_text(encoding="utf-8")
    assert "SSRF_PROTECTION = off" in text
    assert "SLEEP_TIME = 0" in text
    assert "DOWNLOAD_TIMEOUT" in text  # the rest of trafilatura's defaults stay


def test_tables_align_numbers_right_and_text_left():
    lines = format_table(["measure", "pages", "how"], [["a", "5", "x"], ["bb", "100", "yy"]], left=1)
    assert lines[2] == "a            5  x"
    assert lines[3] == "bb         100  yy"


def test_missing_corpus_skips_with_exit_0(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nowhere")]) == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.corpus
@needs_corpus
def test_subset_corpus_keeps_the_first_pages(tmp_path):
    folder = subset_corpus(DEFAULT_CORPUS, 2, tmp_path / "c")
    lines = (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert all((folder / line.split('"file": "')[1].split('"')[0]).is_file() for line in lines)


@pytest.mark.corpus
@needs_corpus
def test_tiny_run_prints_every_row_and_the_row_counts_match(capsys):
    assert main(["--copies", "1", "--limit-pages", "3", "--scale", "0"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("== speed benchmark") :]
    for label in [
        "limit: trafilatura+langdetect, 2 processes",
        "peer: trafilatura CLI --parallel 4",
        "wirehouse ingest, K=1",
        "wirehouse ingest, in-flow only",
        "wirehouse 2nd run, unchanged feeds",
        "skipped (--scale 0)",
        "ingest with readers, in-flow only",
        "errors, p50",
        "never went down",
        "lake files: before -> after upkeep",
        "Parquet files in the data folder",
        "lake/baseline time",
        "wirehouse/limit",
        "wirehouse/peer",
        "second run time",
        "reproduce (from the project root): .venv/bin/python -m bench.speed",
    ]:
        assert label in table, label
    assert "articles rows after run 1: 3 for 3 pages" in table
    assert "articles rows after run 2: 3 (no new row expected) -> OK" in table
    assert "row counts matched: yes" in table
    readers = next(line for line in table.splitlines() if line.startswith("ingest with readers"))
    assert " 0 errors" in readers
    run1 = next(line for line in table.splitlines() if line.startswith("  run 1:"))
    assert "n/a" not in run1  # the task runs were counted in Prefect's database


def test_ratio_lines_give_each_pair_and_the_median_against_the_target():
    def run(flow_seconds, rows=100, returncode=0):
        return IngestRun(
            "r", 100, flow_seconds + 3.0, returncode, 0, "", flow_seconds=flow_seconds, rows_after=rows
        )

    limit = LimitResult(pages=100, seconds=2.0, with_text=100, workers=2)  # 50 pages/s
    pairs = [
        (limit, run(2.5), None),
        (limit, run(2.0), None),
        (limit, run(4.0), None),
        (limit, run(1.0, rows=90), None),
    ]
    lines = ratio_lines(pairs)
    assert len(lines) == 2 + 4 + 1  # header, rule, one row per pair, the verdict
    # 0.80x, 1.00x, 0.50x; the fourth stored too few rows and does not count
    assert lines[-1] == (
        "ingest (this tree) vs the naive limit, in-flow, Prefect server already running: median 0.80x "
        "of 3 pairs (misses the 0.9x target)"
    )
    assert "1.00x" in lines[3] and "90/100" in lines[5]


def test_ratio_lines_compare_another_ref_under_the_same_conditions():
    limit = LimitResult(pages=100, seconds=2.0, with_text=100, workers=2)
    ours = IngestRun("a", 100, 3.0, 0, 0, "", flow_seconds=2.0, rows_after=100)
    theirs = IngestRun("b", 100, 4.0, 0, 0, "", flow_seconds=2.5, rows_after=100)
    lines = ratio_lines([(limit, ours, theirs)], "main")
    assert len(lines) == 2 + 2 + 2
    assert lines[-2].startswith("ingest (this tree) vs the naive limit") and "1.00x" in lines[-2]
    assert lines[-1].startswith("ingest (code at main) vs the naive limit") and "0.80x" in lines[-1]
    assert "meets" in lines[-2] and "misses" in lines[-1]
