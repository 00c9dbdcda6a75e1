import subprocess
import sys
from pathlib import Path

import pytest

from bench.lake import (
    FileCounts,
    baseline_rows,
    default_baseline_ref,
    files_row,
    move_parent,
    parquet_files,
    reader_row,
)
from tests.support.readers import QueryPoller, ReaderQuery, csv_count, percentile, query_command, reader_stats

PROJECT = Path(__file__).resolve().parent.parent.parent


def test_a_count_is_read_from_under_the_csv_header():
    assert csv_count("count_star()\n1008\n") == 1008
    assert csv_count("count_star()\n") is None
    assert csv_count("") is None
    assert csv_count("count_star()\nwirehouse: error: x\n") is None


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(20, 0, -1)]  # 20 values, unsorted
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 1.0) == 20.0
    assert percentile([5.0, 1.0, 4.0, 2.0, 3.0], 0.5) == 3.0  # rank ceil(2.5) = 3
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) == 0.0


def test_reader_stats_count_errors_and_see_a_count_going_down():
    ok = [ReaderQuery(0.1 * i, 0, f"count_star()\n{n}\n", "") for i, n in enumerate([0, 50, 50, 100], 1)]
    stats = reader_stats(ok)
    assert (stats.queries, stats.errors, stats.counts) == (4, 0, (0, 50, 50, 100))
    assert stats.never_down
    assert stats.p50 == pytest.approx(0.2) and stats.p95 == pytest.approx(0.4)
    failed = ReaderQuery(61.8, 1, "", "wirehouse: error: warehouse in use\n")
    warned = ReaderQuery(0.1, 0, "count_star()\n150\n", "a warning\n")  # stderr output counts as an error
    down = ReaderQuery(0.1, 0, "count_star()\n40\n", "")
    stats = reader_stats([*ok, failed, warned, down])
    assert (stats.queries, stats.errors, stats.counts) == (7, 2, (0, 50, 50, 100, 40))
    assert not stats.never_down


def test_report_rows_say_what_was_measured():
    stats = reader_stats([ReaderQuery(0.5, 0, "c\n3\n", ""), ReaderQuery(0.7, 1, "", "boom")])
    row = reader_row(stats, 1008, 40.0)
    assert row[:4] == ["ingest with readers, in-flow only", "1,008", "40.0", "25.2"]
    assert "2 x `wirehouse query` every 0.2 s: 1 errors, p50 0.50 s, p95 0.70 s" in row[5]
    assert "count 3 -> 3, never went down" in row[5]
    files = files_row(FileCounts(before=120, after=4, catalog_before=118, catalog_after=4, seconds=1.25))
    assert files[0] == "lake files: before -> after upkeep" and files[2] == "1.2"
    assert "Parquet files in the data folder 120 -> 4 (catalog lists 118 -> 4)" in files[5]
    base, lake = baseline_rows("cd8478dd7f8e86a1", 1008, 28.0, 31.5)
    assert base[:4] == ["baseline cd8478dd7f, in-flow only", "1,008", "28.0", "36.0"]
    assert lake[2] == "31.5" and "lake/baseline time 1.12x" in lake[5]
    _, lake = baseline_rows("abc", 10, None, 31.5)
    assert "no ratio (a run failed)" in lake[5]


def test_the_baseline_is_the_parent_of_the_move():
    log = "\n".join(
        [
            "c3\tc2\ttests: something later",
            "c2\tc1\tDuckLake storage: SQLite catalog ...",
            "c1\tc0\tREADME: mentions DuckLake storage",
        ]
    )
    assert move_parent(log) == "c1"
    assert move_parent("c1\tc0\tREADME: nothing\n") is None
    assert move_parent("c0\t\tDuckLake storage first commit\n") is None  # no parent


def test_the_default_baseline_is_found_in_this_history():
    if subprocess.run(["git", "-C", str(PROJECT), "rev-parse"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    ref = default_baseline_ref(PROJECT)
    if ref is None:
        pytest.skip("history without the DuckLake move (shallow clone)")
    subject = subprocess.run(
        ["git", "-C", str(PROJECT), "log", "-1", "--format=%s", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not subject.startswith("DuckLake storage")
    children = subprocess.run(
        ["git", "-C", str(PROJECT), "log", "--format=%P %s", "--ancestry-path", f"{ref}..HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert any(line.startswith(f"{ref} DuckLake storage") for line in children.splitlines())


def test_parquet_files_are_counted_in_every_subfolder(tmp_path):
    assert parquet_files(tmp_path / "missing") == 0
    (tmp_path / "main" / "articles").mkdir(parents=True)
    (tmp_path / "main" / "articles" / "a.parquet").write_bytes(b"")
    (tmp_path / "main" / "b.parquet").write_bytes(b"")
    (tmp_path / "main" / "notes.txt").write_text("not data")
    assert parquet_files(tmp_path) == 2


def test_the_poller_collects_answers_until_stopped(tmp_path):
    command = [sys.executable, "-c", "print('c'); print(7)"]
    seen: list[int] = []
    poller = QueryPoller(command, {}, tmp_path, interval=0.0, after_each=lambda: seen.append(1))
    with poller:
        while len(poller.queries) < 3:
            subprocess.run([sys.executable, "-c", "pass"], check=True)  # let it run a few
    stopped_at = len(poller.queries)
    assert stopped_at >= 3 and len(seen) == stopped_at
    assert all(q.ok and csv_count(q.stdout) == 7 for q in poller.queries)
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert len(poller.queries) == stopped_at  # nothing runs after the block


def test_the_query_is_the_users_command():
    command = query_command(Path("w/news.sqlite"))
    assert command[1:] == [
        "-m",
        "wirehouse.cli",
        "query",
        "--format",
        "csv",
        "select count(*) from articles",
        "--warehouse",
        "w/news.sqlite",
    ]
