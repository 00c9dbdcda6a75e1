"""The CPU stage on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1."""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import replace

import pytest
from distributed import WorkerPlugin

from core.rawhtml import COMPRESSION, decompress_html
from tasks.cluster import (
    PLUGIN_NAME,
    DaskPool,
    DaskSchedulerError,
    connect,
    pack_pages,
    process_packed_pages,
    unpack_pages,
)
from tasks.cpu import process_in_pool
from tasks.pools import cpu_pool
from tests.conftest import free_port
from tests.support.daskcluster import dask_cluster
from tests.tasks.test_cpu import _page

POISON = "/poison"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Nannies restart a worker that dies; one failure allowed, so the poison test needs few deaths.
    with dask_cluster(tmp_path_factory.mktemp("dask"), 2, nanny=True, allowed_failures=1) as running:
        yield running


class Poison(WorkerPlugin):
    """Makes a worker process die (as a crash in a C parser would) on pages whose URL ends in /poison."""

    def setup(self, worker):
        import tasks.cpu

        self.original = original = tasks.cpu.process_page

        def process_page(page):
            if page.entry.url.endswith(POISON):
                os._exit(1)
            return original(page)

        tasks.cpu.process_page = process_page

    def teardown(self, worker):
        import tasks.cpu

        tasks.cpu.process_page = self.original


def test_pages_travel_compressed_and_arrive_as_fetched():
    pages = [_page(1), _page(2), replace(_page(3), body=None)]
    packed = pack_pages(pages)
    assert all(len(p.body) < len(q.body) for p, q in zip(packed[:2], pages, strict=False))
    assert zlib.decompress(packed[0].body) == pages[0].body
    assert packed[2] == pages[2]
    assert unpack_pages(packed) == pages


def test_a_packed_chunk_is_processed_like_a_plain_one():
    pages = [_page(4), _page(5)]
    with cpu_pool(1) as pool:
        plain = process_in_pool(pool, pages)
    assert process_packed_pages(pack_pages(pages)) == plain


def test_an_unreachable_scheduler_is_one_clear_error():
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(DaskSchedulerError) as raised:
        connect(address, timeout=1)
    assert str(raised.value).startswith(f"cannot reach the Dask scheduler at {address}: ")
    assert time.monotonic() - started < 30
    with pytest.raises(DaskSchedulerError):
        connect("nonsense://nowhere", timeout=1)


def test_the_cluster_returns_what_the_local_pool_returns(cluster):
    pages = [_page(n) for n in range(12)]  # three chunks: both workers take part
    with cpu_pool(2) as pool:
        local = process_in_pool(pool, pages)
    with cpu_pool(0, cluster.address) as pool:
        assert isinstance(pool, DaskPool)
        remote = process_in_pool(pool, pages)
        # every worker was warmed up by the plugin, not by its first batch
        assert all(PLUGIN_NAME in plugins for plugins in pool.client.run(_plugins).values())
        assert pool.submit(pow, 2, 10).result(timeout=60) == 1024  # a plain Executor too
    assert remote == local
    assert all(a.extraction_status == "ok" and a.raw_html is None and a.raw_html_zlib for a in remote)


def _plugins(dask_worker):
    return list(dask_worker.plugins)


def test_a_page_that_keeps_killing_workers_becomes_an_error_row(cluster):
    pages = [_page(n) for n in range(10)]
    poisoned = f"https://example.org{POISON}"
    pages[2] = replace(pages[2], entry=replace(pages[2].entry, url=poisoned, link=poisoned))
    with cpu_pool(0, cluster.address) as pool:
        pool.client.register_plugin(Poison(), name="poison")
        try:
            articles = process_in_pool(pool, pages)
        finally:
            pool.client.unregister_worker_plugin("poison")
    assert [a.url for a in articles] == [p.entry.url for p in pages]
    lost = articles[2]
    assert lost.extraction_status == "error" and lost.extraction_error.startswith("KilledWorker")
    assert lost.raw_html_zlib and decompress_html(lost.raw_html_zlib, COMPRESSION) == pages[2].body
    # its chunk's other pages were tried one by one and came through
    assert [a.extraction_status for i, a in enumerate(articles) if i != 2] == ["ok"] * 9
