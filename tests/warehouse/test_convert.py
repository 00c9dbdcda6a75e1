"""Upgrade: a single-file DuckDB warehouse of an older wirehouse becomes the lake, every row and column kept."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

import warehouse
from core.records import FeedFetch, FeedSource, Quote
from tasks import wirecopy
from tests.warehouse.test_articles import WIRE, art
from warehouse.articles import articles_table, quotes_table, raw_pages_table
from warehouse.connection import connect, lake_of
from warehouse.convert import TABLES
from warehouse.feeds import save_feeds, store_fetches

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2024, 10, 28, 15, 0, tzinfo=UTC)
PUBLIC = ("articles", "feed_fetches", "stories", "failures", "quotes")


def make_old_warehouse(path: Path) -> None:
    """Write a warehouse as the single-file versions did: their migrations, then a run's rows."""
    con = duckdb.connect(str(path))
    try:
        warehouse.migrate(con, warehouse.LEGACY_MIGRATIONS_DIR)
        save_feeds(con, [FeedSource("https://x.example/rss", title="X")], "feeds.opml")
        articles = [
            art(1, quotes=(Quote(1, "Wir bleiben", 3, 14),), fingerprint=wirecopy.fingerprint(WIRE)),
            art(2, language="fr", fingerprint=wirecopy.fingerprint(WIRE)),
            art(3, extraction_status="http_error", text=None, retryable=True),
        ]
        _store_as_old_versions_did(con, articles, "old-run")
        fetch = FeedFetch(feed_url="https://x.example/rss", started_at=NOW, finished_at=NOW, http_status=200)
        store_fetches(con, [fetch], "old-run", NOW)
    finally:
        con.close()


def _store_as_old_versions_did(con: duckdb.DuckDBPyConnection, articles: list, run_id: str) -> None:
    """Bulk-insert a batch with its raw pages, quotes and story keys (a single file has no key index).

    The wire copies share a story, as the grouping of the old versions gave them.
    """
    story = articles[0].url
    grouped = [replace(a, story_id=story if a.fingerprint else a.url) for a in articles]
    keys = [
        (key, a.url, a.published_at or a.fetched_at)
        for a in grouped
        for key in wirecopy.band_keys(a.fingerprint)
    ]
    tables = {
        "article_store": articles_table(grouped, run_id),
        "raw_pages": raw_pages_table(grouped),
        "quotes": quotes_table(grouped),
        "story_keys": pa.table(
            {
                "band_key": pa.array([k for k, _, _ in keys], pa.int64()),
                "url": [u for _, u, _ in keys],
                "seen_at": pa.array([t for _, _, t in keys], pa.timestamp("us", tz="UTC")),
            }
        ),
    }
    for name, table in tables.items():
        con.register("rows", table)
        con.execute(f"INSERT INTO {name} BY NAME (SELECT * FROM rows)")
        con.unregister("rows")


def describe(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    return {name: [(r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall()] for name in PUBLIC}


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[object, ...]]:
    columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "fetch_id"]
    listed = ", ".join(columns)
    return sorted(con.execute(f"SELECT {listed} FROM {table}").fetchall(), key=repr)


def test_first_use_converts_the_old_file_with_equal_counts_hashes_and_types(tmp_path, caplog):
    old = tmp_path / "news.duckdb"
    make_old_warehouse(old)
    before = duckdb.connect(str(old), read_only=True)
    try:
        shapes = describe(before)
        rows = {t: table_rows(before, t) for t in TABLES}
    finally:
        before.close()
    with caplog.at_level(logging.WARNING):
        lake = connect(tmp_path / "news.sqlite", read_only=True)  # the default path: news.duckdb beside it
    try:
        assert describe(lake) == shapes  # the public views and quotes: every column, every type
        assert {t: table_rows(lake, t) for t in TABLES} == rows
        assert lake.execute("select count(*) from articles").fetchone()[0] == 3
    finally:
        lake.close()
    assert "converted the warehouse" in caplog.text
    assert old.is_file() and lake_of(old).sqlite.is_file()


def test_converted_articles_are_found_by_search_at_once(tmp_path):
    from warehouse.search import search

    make_old_warehouse(tmp_path / "news.duckdb")
    lake = connect(tmp_path / "news.sqlite", read_only=True)
    try:
        text = lake.execute("select text from articles where url = 'https://x.example/1'").fetchone()[0]
        word = max(text.split(), key=len).strip(".,«»")
        hits = search(lake, lake_of(tmp_path / "news.sqlite").search_dir, word)
    finally:
        lake.close()
    assert "https://x.example/1" in {h.url for h in hits}


def test_wirehouse_migrate_prints_the_check_of_every_table(tmp_path):
    old = tmp_path / "news.duckdb"
    make_old_warehouse(old)
    result = subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", "migrate", "--warehouse", str(old)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.split()}
    assert lines["article_store"] == ["3", "3", "equal"]
    assert lines["quotes"] == ["1", "1", "equal"]
    assert all(lines[t][-1] == "equal" for t in TABLES)
    again = subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", "migrate", "--warehouse", str(old)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert again.returncode == 0 and "is a lake already" in again.stdout
