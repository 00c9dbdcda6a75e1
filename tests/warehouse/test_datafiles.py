"""The lake's files on disk: a killed transaction's orphans are counted and deleted, damaged files are named."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.warehouse.test_maintenance import store_batches
from tests.wirehouse.test_cli import ROOT, assert_one_line_error, wirehouse
from warehouse.connection import connect, lake_of, open_warehouse
from warehouse.datafiles import damaged_files, find_orphans
from warehouse.maintenance import upkeep

ROWS = """
select a.url, a.title, a.text, md5(r.html) from articles a left join raw_pages r using (url) order by a.url
"""

# A batch that is killed after its Parquet files are written and before its commit.
KILLED_BATCH = """
import sys, time
from tests.warehouse.test_articles import art
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse


def hang():
    print("written", flush=True)
    time.sleep(120)


with open_warehouse(sys.argv[1]) as con:
    store_articles(con, [art(1000 + n) for n in range(40)], "killed", before_commit=hang)
"""


def kill_a_batch_before_its_commit(path: Path) -> None:
    """Run a batch in another process and SIGKILL it between writing its files and committing."""
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_BATCH, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def rows(path: Path) -> list[tuple]:
    reader = connect(path, read_only=True)  # a fresh reader: nothing cached from before
    try:
        return reader.execute(ROWS).fetchall()
    finally:
        reader.close()


def live_file(path: Path, table: str = "article_store") -> Path:
    with open_warehouse(path, read_only=True) as con:
        found = con.execute(
            "select min(data_file) from ducklake_list_files('news', ?, schema => 'main')", [table]
        ).fetchone()
    assert found and found[0]
    return Path(found[0])


def test_a_killed_batch_leaves_orphans_that_stats_counts_and_upkeep_deletes_after_the_grace(
    warehouse_path, capsys
):
    from wirehouse.cli import main

    store_batches(warehouse_path, 3)
    before = rows(warehouse_path)
    kill_a_batch_before_its_commit(warehouse_path)
    with open_warehouse(warehouse_path, read_only=True) as con:
        orphans = find_orphans(con)
    assert orphans and all(Path(f.path).is_file() for f in orphans)
    assert rows(warehouse_path) == before  # the killed batch is not in the lake

    assert main(["stats", "--format", "json", "--warehouse", str(warehouse_path)]) == 0
    out, err = capsys.readouterr()
    files = json.loads(out.splitlines()[-1])
    assert files == [{"orphan_files": len(orphans), "orphan_bytes": sum(f.size for f in orphans)}]
    assert f"{len(orphans)} Parquet files" in err and "belong to no commit" in err

    with open_warehouse(warehouse_path) as con:
        kept = upkeep(con, keep_snapshots=timedelta(days=7), file_grace=timedelta(0))
        assert kept.orphans_deleted == 0 and len(find_orphans(con)) == len(orphans)  # younger than a day
        done = upkeep(con, keep_snapshots=timedelta(0), file_grace=timedelta(0), orphan_grace=timedelta(0))
        assert done.orphans_deleted == len(orphans) and find_orphans(con) == []
        assert damaged_files(con, decode=True) == []  # every live file is still there and whole
    assert not any(Path(f.path).exists() for f in orphans)
    assert rows(warehouse_path) == before
    assert main(["stats", "--format", "json", "--warehouse", str(warehouse_path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1]) == [{"orphan_files": 0, "orphan_bytes": 0}]
    assert "Parquet files" not in err


def test_a_file_that_is_not_the_lakes_own_is_an_orphan_too(warehouse_path):
    store_batches(warehouse_path, 1)
    data = Path(lake_of(warehouse_path).data_path or "")
    stray = data / "main" / "article_store" / "copied-by-hand.parquet"
    stray.write_bytes(live_file(warehouse_path).read_bytes())
    with open_warehouse(warehouse_path) as con:
        assert [f.path for f in find_orphans(con)] == [str(stray)]
        upkeep(con, keep_snapshots=timedelta(days=7), file_grace=timedelta(0), orphan_grace=timedelta(0))
    assert not stray.exists() and len(rows(warehouse_path)) == 20


def test_a_truncated_data_file_is_named_by_the_check_and_by_a_query(warehouse_path):
    store_batches(warehouse_path, 2)
    target = live_file(warehouse_path)
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with open_warehouse(warehouse_path, read_only=True) as con:
        (damaged,) = damaged_files(con)
    assert damaged.path == str(target) and damaged.table == "article_store"
    result = wirehouse("query", "select title, text from articles", "--warehouse", str(warehouse_path))
    assert_one_line_error(result, str(target))


def test_bytes_overwritten_inside_a_data_file_are_named_by_a_query_and_by_the_deep_check(warehouse_path):
    store_batches(warehouse_path, 2)
    target = live_file(warehouse_path)
    data = bytearray(target.read_bytes())
    data[100:2100] = b"\x00" * 2000  # pages, not the footer: DuckDB's own error names no file
    target.write_bytes(bytes(data))
    with open_warehouse(warehouse_path, read_only=True) as con:
        assert damaged_files(con) == []  # the footer and the size are intact
        (damaged,) = damaged_files(con, decode=True)
    assert damaged.path == str(target)
    # DuckDB says "TProtocolException: Invalid data" when it reads this file's titles, naming no file
    result = wirehouse("query", "select title from articles", "--warehouse", str(warehouse_path))
    assert_one_line_error(result, f"damaged data file {target} of table article_store")
