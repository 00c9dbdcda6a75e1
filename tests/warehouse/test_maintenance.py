"""Lake upkeep and time travel: small files merged, old snapshots expired, every snapshot readable until then."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.warehouse.test_articles import art
from warehouse.articles import store_articles
from warehouse.connection import connect, lake_of, open_warehouse, read_query
from warehouse.maintenance import file_count, list_snapshots, snapshot_count, snapshot_history, upkeep

COUNT = "select count(*) from articles"


def parquet_files(path: Path) -> int:
    return sum(1 for _ in Path(lake_of(path).data_path or "").rglob("*.parquet"))


def store_batches(path: Path, batches: int, size: int = 20) -> list[int]:
    """Store batches big enough to be written as Parquet files; return the snapshot after each."""
    versions = []
    with open_warehouse(path, migrate=True) as con:
        for b in range(batches):
            store_articles(con, [art(b * size + n) for n in range(size)], f"run-{b}")
            versions.append(list_snapshots(con, 1)[0][0])
    return versions


def test_every_snapshot_reads_as_it_was_by_version_and_by_time(warehouse_path):
    versions = store_batches(warehouse_path, 3)
    assert [read_query(warehouse_path, COUNT, v)[1][0][0] for v in versions] == [20, 40, 60]
    with open_warehouse(warehouse_path, read_only=True) as con:
        listed = list_snapshots(con, 50)
    assert [v for v, _, _ in listed][:3] == versions[::-1]  # newest first
    when = next(t for v, t, _ in listed if v == versions[1])
    assert read_query(warehouse_path, COUNT, when)[1][0][0] == 40
    assert "article_store" in next(c for v, _, c in listed if v == versions[0])


def test_upkeep_merges_files_and_expires_snapshots_without_changing_the_data(warehouse_path):
    store_batches(warehouse_path, 5)
    with open_warehouse(warehouse_path) as con:
        rows = sorted(con.execute("select url, title, text from articles").fetchall())
        snapshots = snapshot_count(con)
        listed = file_count(con)
        on_disk = parquet_files(warehouse_path)
        done = upkeep(con, keep_snapshots=timedelta(0), file_grace=timedelta(0))
        assert sorted(con.execute("select url, title, text from articles").fetchall()) == rows
        assert snapshot_count(con) < snapshots
    assert done.files_before == listed and done.files_after < done.files_before
    assert done.merged > 0 and done.snapshots_expired > 0 and done.files_deleted > 0
    assert parquet_files(warehouse_path) < on_disk
    reader = connect(warehouse_path, read_only=True)  # a fresh reader finds everything after the cleanup
    try:
        assert reader.execute(COUNT).fetchone()[0] == 100
    finally:
        reader.close()


def test_snapshot_history_counts_articles_added_changed_and_removed(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2), art(3)], "r1")
        store_articles(con, [art(2, title="changed"), art(3, title="changed")], "r2", replace=True)
        con.execute("DELETE FROM article_store WHERE url = ?", ["https://x.example/1"])
        con.execute("INSERT INTO feeds (feed_url) VALUES (?)", ["https://x.example/rss"])
    with open_warehouse(warehouse_path, read_only=True) as con:
        history = snapshot_history(con, 4)
    assert [(s.articles_added, s.articles_changed, s.articles_removed, s.changes) for s in history] == [
        (0, 0, 0, "feeds"),
        (0, 0, 1, "articles"),
        (0, 2, 0, "articles, raw pages"),
        (3, 0, 0, "articles, raw pages"),
    ]
    assert [s.version for s in history] == sorted((s.version for s in history), reverse=True)
    with open_warehouse(warehouse_path, read_only=True) as con:
        oldest = snapshot_history(con, 100)[-1]
    assert (oldest.version, oldest.changes) == (0, "schema")  # DuckLake's internals never show


def test_upkeep_counts_the_files_it_writes_from_rows_the_catalog_held(warehouse_path):
    # Batches of a few rows stay inlined in the catalog; the pass writes them to Parquet, so the lake
    # has more files after it than before, and the summary must say where they came from.
    store_batches(warehouse_path, 3, size=2)
    with open_warehouse(warehouse_path) as con:
        before = file_count(con)
        done = upkeep(con, keep_snapshots=timedelta(days=7), file_grace=timedelta(hours=1))
    assert done.flushed > 0
    assert done.files_before == before < done.files_after <= before + done.flushed


RETENTION_DAYS = 30


def stored_raw_urls(con) -> set[str]:
    return {url for (url,) in con.execute("select url from raw_pages").fetchall()}


def test_raw_html_retention_never_deletes_a_page_inside_its_window(warehouse_path):
    from datetime import UTC, datetime

    from warehouse.maintenance import expire_raw_html

    now = datetime.now(UTC)
    window = timedelta(days=RETENTION_DAYS)
    ages = {
        1: window - timedelta(minutes=1),  # the boundary: still inside, stays
        2: timedelta(days=1),
        3: timedelta(0),
        4: window + timedelta(minutes=1),  # just past it: goes
        5: timedelta(days=400),
    }
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(n, fetched_at=now - age) for n, age in ages.items()], "r")
        assert expire_raw_html(con, RETENTION_DAYS, now=now) == 2
        assert stored_raw_urls(con) == {f"https://x.example/{n}" for n in (1, 2, 3)}
        assert con.execute(COUNT).fetchone()[0] == 5  # the articles stay, only their raw HTML goes
        assert expire_raw_html(con, RETENTION_DAYS, now=now) == 0  # a second pass finds nothing more


@pytest.fixture(params=["embedded", "postgres"])
def any_lake(request, warehouse_path, tmp_path, monkeypatch):
    """An embedded lake, and one with a PostgreSQL catalog (skipped without PostgreSQL binaries)."""
    if request.param == "embedded":
        return warehouse_path
    monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "data") + "/")
    return request.getfixturevalue("postgres_catalog")


def test_lake_upkeep_gives_the_removed_raw_html_bytes_back(any_lake):
    """Deleted rows only leave the disk when their files are rewritten or dropped: upkeep does both."""
    import os
    from datetime import UTC, datetime

    from warehouse.export import warehouse_stats
    from warehouse.maintenance import expire_raw_html

    now = datetime.now(UTC)
    old = now - timedelta(days=RETENTION_DAYS + 1)
    with open_warehouse(any_lake, migrate=True) as con:
        for b in range(2):  # each file holds old and recent pages alike, as merged files do
            batch = [
                art(b * 20 + n, fetched_at=old if n % 2 else now, raw_html=os.urandom(20_000))
                for n in range(20)
            ]
            store_articles(con, batch, f"run-{b}")
        ((pages, before, per_page),) = warehouse_stats(con)["raw"]
        assert pages == 40 and before > 40 * 20_000 and per_page == round(before / 40)
        assert expire_raw_html(con, RETENTION_DAYS, now=now) == 20
        result = upkeep(
            con, keep_snapshots=timedelta(0), file_grace=timedelta(0), now=now + timedelta(seconds=1)
        )
        ((pages, after, _),) = warehouse_stats(con)["raw"]
        assert result.rewritten >= 1
        assert pages == 20 and 20 * 20_000 < after < 0.6 * before
        assert len(stored_raw_urls(con)) == 20
