"""Reprocess rewrites stored articles from raw HTML without fetching; maintenance indexes and exports."""

from __future__ import annotations

import pytest

from flows.ingest import ingest
from flows.maintenance import maintenance
from flows.reprocess import reprocess
from warehouse.connection import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_reprocess_rewrites_from_stored_html_without_fetching(newsroom, warehouse_path):
    ingest(feeds=newsroom.opml, warehouse=str(warehouse_path))
    con = connect(warehouse_path)
    # pretend an older wirehouse extracted badly
    con.execute(
        "update article_store set text = 'old', language = 'xx', word_count = 1 where extraction_status = 'ok'"
    )
    before = con.execute("select count(*) from articles").fetchone()[0]
    con.close()
    newsroom.log.clear()
    counts = reprocess(warehouse=str(warehouse_path), status="ok")
    assert newsroom.log == []  # nothing fetched
    con = connect(warehouse_path, read_only=True)
    try:
        assert con.execute("select count(*) from articles").fetchone()[0] == before
        assert (
            con.execute("select count(*) from articles where text = 'old' or language = 'xx'").fetchone()[0]
            == 0
        )
        (wire,) = con.execute(
            "select dateline_place, agencies from articles where url like '%nato-treffen%'"
        ).fetchall()
    finally:
        con.close()
    assert counts.get("ok", 0) >= 20
    assert wire == ("Brüssel", ["dpa"])


def test_maintenance_indexes_exports_and_checkpoints(newsroom, warehouse_path, tmp_path):
    ingest(feeds=newsroom.opml, warehouse=str(warehouse_path))
    result = maintenance(warehouse=str(warehouse_path), export_dir=str(tmp_path / "exports"))
    assert result["indexed"] >= 20 and result["exported_articles"] >= 20
    assert (tmp_path / "exports" / "articles").is_dir()
