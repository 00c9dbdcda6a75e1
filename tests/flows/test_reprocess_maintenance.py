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
    # ... and before 011: no page type, no confidence (what an upgraded lake holds)
    con.execute("update article_store set page_type = NULL, extraction_confidence = NULL")
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
        # The pages' signals brought up to date too.
        assert con.execute(
            "select count(*) from articles where extraction_status = 'ok'"
            " and (page_type is null or extraction_confidence is null)"
        ).fetchone() == (0,)
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


def test_raw_html_retention_in_maintenance_and_what_reprocess_says_of_the_pages_it_removed(
    warehouse_path, monkeypatch, capsys
):
    from datetime import UTC, datetime, timedelta

    from flows.reprocess import RAW_HTML_REMOVED
    from tests.warehouse.test_articles import art
    from warehouse.articles import store_articles
    from warehouse.connection import open_warehouse
    from wirehouse.cli import main

    now = datetime.now(UTC)
    window = timedelta(days=30)
    ages = {
        1: window - timedelta(minutes=1),
        2: timedelta(hours=1),
        3: window + timedelta(hours=1),
        4: 400 * window,
    }
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(n, fetched_at=now - age) for n, age in ages.items()], "r")

    def raw_urls() -> set[str]:
        with open_warehouse(warehouse_path, read_only=True) as con:
            return {url.rsplit("/", 1)[1] for (url,) in con.execute("select url from raw_pages").fetchall()}

    # No setting: raw HTML is kept always, however old.
    monkeypatch.delenv("WIREHOUSE_RAW_HTML_DAYS", raising=False)
    assert maintenance(warehouse=str(warehouse_path), export_dir=None)["raw_html_removed"] == 0
    assert raw_urls() == {"1", "2", "3", "4"}
    assert RAW_HTML_REMOVED not in reprocess(warehouse=str(warehouse_path))

    monkeypatch.setenv("WIREHOUSE_RAW_HTML_DAYS", "30")
    assert maintenance(warehouse=str(warehouse_path), export_dir=None)["raw_html_removed"] == 2
    assert raw_urls() == {"1", "2"}  # the page a minute inside its window stays
    counts = reprocess(warehouse=str(warehouse_path))
    assert counts.pop(RAW_HTML_REMOVED) == 2 and sum(counts.values()) == 2
    with open_warehouse(warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 4  # articles stay

    capsys.readouterr()
    assert main(["reprocess", "--warehouse", str(warehouse_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        "2 selected pages are not re-processed: their raw HTML was removed by the raw-HTML retention"
        " setting (raw_html_days, now 30 days); re-processing the other 2",
        out[-1],
    ] and out[-1].startswith("re-processed 2 articles: ")
    assert main(["stats", "--format", "json", "--warehouse", str(warehouse_path)]) == 0
    assert '"pages": 2' in capsys.readouterr().out


def test_reprocess_reads_zlib_rows_of_the_old_format_and_stores_them_again_as_zstd(warehouse_path):
    import zlib

    from core.rawhtml import decompress_html
    from tests.warehouse.test_articles import art
    from warehouse.articles import store_articles
    from warehouse.connection import open_warehouse

    html = {
        n: f"<html><body><article><p>Meldung {n}: der Rat tagt.</p></article></body></html>".encode()
        for n in (1, 2)
    }
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(n, raw_html=html[n], text="old") for n in (1, 2)], "r")
        # What wirehouse 0.1 left: a zlib stream, labelled so.
        con.execute(
            "update raw_pages set compression = 'zlib', html = ? where url = ?",
            [zlib.compress(html[1], 3), "https://x.example/1"],
        )
    counts = reprocess(warehouse=str(warehouse_path))
    assert sum(counts.values()) == 2
    with open_warehouse(warehouse_path, read_only=True) as con:
        rows = con.execute("select url, compression, html from raw_pages order by url").fetchall()
        texts = con.execute("select text from articles").fetchall()
    assert [(url[-1], codec) for url, codec, _ in rows] == [("1", "zstd"), ("2", "zstd")]
    assert [decompress_html(blob, codec) for _, codec, blob in rows] == [html[1], html[2]]
    assert ("old",) not in texts  # both were re-extracted
