"""The real-page corpus served on loopback through link-only RSS feeds, ingested end to end."""

from __future__ import annotations

import duckdb
import pytest

from bench.corpus_site import serve_corpus
from flows.ingest import ingest
from tests.conftest import require_corpus

pytestmark = [pytest.mark.corpus, pytest.mark.usefixtures("prefect_harness")]


def test_every_served_page_becomes_exactly_one_row_and_a_second_run_adds_none(tmp_path):
    corpus = require_corpus("fundus")
    path = tmp_path / "corpus.duckdb"
    with serve_corpus(corpus) as (_base, opml, pages):
        first = ingest(feeds=opml, warehouse=str(path))
        second = ingest(warehouse=str(path))
    con = duckdb.connect(str(path), read_only=True)
    try:
        urls = {row[0] for row in con.execute("select url from articles").fetchall()}
        statuses = dict(con.execute("select extraction_status, count(*) from articles group by 1").fetchall())
        total = con.execute("select count(*) from articles").fetchone()[0]
    finally:
        con.close()
    served = {p.path for p in pages}
    assert total == len(pages) == len(urls)
    assert {u.split("/", 3)[3] for u in urls} == {p.lstrip("/") for p in served}
    assert first.new_entries == len(pages)
    assert second.new_entries == 0
    assert statuses.get("ok", 0) >= 0.95 * len(pages)
