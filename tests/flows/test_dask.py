"""Runs whose CPU stage is a real Dask cluster (a scheduler and two worker processes on 127.0.0.1)."""

from __future__ import annotations

import gzip
import threading
import time

import pytest
from distributed import Client, WorkerPlugin

from flows.backfill import backfill
from flows.ingest import ingest
from flows.reprocess import reprocess
from tasks.cpu import CHUNK_PAGES
from tests.conftest import require_corpus
from tests.support.corpus_site import load_truth, serve_corpus
from tests.support.daskcluster import dask_cluster
from tests.support.loadsite import newsroom
from tests.support.warcfiles import Capture, write_warc
from warehouse.connection import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")

# What extraction and enrichment decide; not when or by which run a row was written, nor its story
# (a story's first member depends on which batch was stored first).
COMPARED = (
    "url, content_hash, extraction_status, extraction_error, title, language, published_at, "
    "word_count, paragraph_count, keywords, agencies, dateline_place, authors, description"
)


@pytest.fixture
def cluster(tmp_path):
    with dask_cluster(tmp_path / "dask", 2) as running:  # no nannies: a killed worker stays dead
        yield running


def stored(warehouse) -> list[tuple]:
    con = connect(warehouse, read_only=True)
    try:
        return con.execute(f"select {COMPARED} from articles order by url").fetchall()
    finally:
        con.close()


def jobs_done(address: str) -> list[int]:
    """Jobs each worker of the cluster has run so far."""
    with Client(address, set_as_default=False) as client:
        return sorted(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def test_a_dask_ingest_and_reprocess_store_what_local_runs_store(cluster, newsroom, tmp_path, monkeypatch):
    ingest(feeds=newsroom.opml, warehouse=str(tmp_path / "local.sqlite"))
    assert jobs_done(cluster.address) == [0, 0]
    monkeypatch.setenv("WIREHOUSE_DASK_ADDRESS", cluster.address)
    ingest(feeds=newsroom.opml, warehouse=str(tmp_path / "dask.sqlite"))
    local, remote = stored(tmp_path / "local.sqlite"), stored(tmp_path / "dask.sqlite")
    assert len(remote) >= 20 and remote == local
    assert {row[2] for row in remote} >= {"ok"}
    ingest_jobs = jobs_done(cluster.address)
    assert min(ingest_jobs) > 0 and sum(ingest_jobs) >= len(remote) / CHUNK_PAGES  # both workers took part

    con = connect(tmp_path / "dask.sqlite")
    con.execute(
        "update article_store set content_hash = 'old', language = 'xx' where extraction_status = 'ok'"
    )
    con.close()
    newsroom.log.clear()
    counts = reprocess(warehouse=str(tmp_path / "dask.sqlite"))
    assert newsroom.log == []  # nothing fetched
    assert sum(counts.values()) == len(local)
    assert stored(tmp_path / "dask.sqlite") == local
    assert sum(jobs_done(cluster.address)) >= sum(ingest_jobs) + len(remote) / CHUNK_PAGES


@pytest.mark.corpus
def test_corpus_pages_extracted_on_dask_equal_a_local_run(cluster, tmp_path, monkeypatch):
    corpus = require_corpus("fundus")
    with serve_corpus(corpus) as (_base, opml, pages):
        ingest(feeds=opml, warehouse=str(tmp_path / "local.sqlite"))
        monkeypatch.setenv("WIREHOUSE_DASK_ADDRESS", cluster.address)
        ingest(feeds=opml, warehouse=str(tmp_path / "dask.sqlite"))
    local, remote = stored(tmp_path / "local.sqlite"), stored(tmp_path / "dask.sqlite")
    assert len(remote) == len(pages)
    assert [row[:2] for row in remote] == [row[:2] for row in local]  # content hash for content hash
    assert remote == local
    assert sum(jobs_done(cluster.address)) >= len(pages) / CHUNK_PAGES


@pytest.mark.corpus
def test_a_backfill_of_corpus_warcs_on_dask_equals_a_local_one(cluster, tmp_path, monkeypatch):
    corpus = require_corpus("fundus")
    captures = [
        Capture(row["url"], gzip.decompress((corpus / row["file"]).read_bytes()))
        for row in load_truth(corpus)
    ]
    half = len(captures) // 2
    files = [
        str(write_warc(tmp_path / "crawl-1.warc.gz", captures[:half])),
        str(write_warc(tmp_path / "crawl-2.warc.gz", captures[half:])),
    ]
    backfill(sources=files, warehouse=str(tmp_path / "local.sqlite"))
    monkeypatch.setenv("WIREHOUSE_DASK_ADDRESS", cluster.address)
    backfill(sources=files, warehouse=str(tmp_path / "dask.sqlite"))
    local, remote = stored(tmp_path / "local.sqlite"), stored(tmp_path / "dask.sqlite")
    assert len(remote) == len({c.url for c in captures}) > 100
    assert [row[:2] for row in remote] == [row[:2] for row in local]  # content hash for content hash
    assert remote == local
    assert sum(jobs_done(cluster.address)) >= len(remote) / CHUNK_PAGES


class Slow(WorkerPlugin):
    """Makes every page take a while on the workers, so a worker can be killed while it holds pages."""

    def setup(self, worker):
        import tasks.cpu

        self.original = original = tasks.cpu.process_page

        def process_page(page):
            time.sleep(0.1)
            return original(page)

        tasks.cpu.process_page = process_page

    def teardown(self, worker):
        import tasks.cpu

        tasks.cpu.process_page = self.original


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(cluster, tmp_path, monkeypatch):
    feeds, items = 4, 20
    client = Client(cluster.address, set_as_default=False)
    client.register_plugin(Slow(), name="slow")
    victim = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "worker-0")
    killed_while: list[int] = []

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            held = client.processing(workers=[victim]).get(victim, [])
            if held:
                cluster.kill_worker(0)
                killed_while.append(len(held))
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_when_busy, daemon=True)
    monkeypatch.setenv("WIREHOUSE_DASK_ADDRESS", cluster.address)
    try:
        with newsroom(feeds, items) as base:
            watcher.start()
            summary = ingest(feeds=f"{base}/feeds.opml", warehouse=str(tmp_path / "w.sqlite"), batch_size=10)
        watcher.join(timeout=10)
        assert killed_while, "the worker was never seen holding a job"
        assert len(client.scheduler_info()["workers"]) == 1  # it stayed dead: one worker did the rest
    finally:
        client.close()
    assert sum(summary.articles_by_status.values()) == feeds * items
    con = connect(tmp_path / "w.sqlite", read_only=True)
    try:
        rows = con.execute(
            "select count(*), count(distinct url), count(*) filter (extraction_status = 'ok') from articles"
        ).fetchone()
        raw = con.execute("select count(*), count(distinct url) from raw_pages").fetchone()
    finally:
        con.close()
    assert rows == (feeds * items,) * 3  # nothing lost, nothing twice, nothing turned into an error
    assert raw == (feeds * items,) * 2
