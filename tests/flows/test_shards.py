"""Shards: N ingests share the feeds of one PostgreSQL-catalog lake at once; their union is one ingest."""

from __future__ import annotations

import os

from tests.flows.test_two_writers import start_ingest
from tests.support.loadsite import newsroom
from warehouse.connection import connect

FEEDS = 10
ITEMS = 8


def stored(warehouse: str) -> tuple[set[tuple[str, str | None]], int, int, int]:
    """(url, content hash) pairs, rows, staged batches left unmerged, merged batches."""
    con = connect(warehouse, read_only=True)
    try:
        pairs = con.execute("select url, content_hash from articles").fetchall()
        pending = con.execute(
            "select count(*) from staged_batches s"
            " where s.batch_id not in (select batch_id from merged_batches)"
        ).fetchone()[0]
        merged = con.execute("select count(*) from merged_batches").fetchone()[0]
    finally:
        con.close()
    return set(pairs), len(pairs), pending, merged


def test_two_shards_at_once_store_what_one_ingest_stores(postgres_catalog, tmp_path):
    data = tmp_path / "shared-data"
    single = tmp_path / "single" / "news.sqlite"
    with newsroom(FEEDS, ITEMS) as base:
        feeds = f"{base}/feeds.opml?first=0&last={FEEDS - 1}"
        shards = [
            start_ingest(feeds, postgres_catalog, data, tmp_path / f"shard{i}", "--shard", f"{i}/2")
            for i in range(2)
        ]
        outputs = [shard.communicate(timeout=900)[0] for shard in shards]
        assert [s.returncode for s in shards] == [0, 0], "\n=====\n".join(o[-6000:] for o in outputs)
        one = start_ingest(feeds, str(single), data, tmp_path / "one")
        output = one.communicate(timeout=900)[0]
        assert one.returncode == 0, output[-6000:]

    sharded, rows, pending, merged = stored(postgres_catalog)
    expected, _, _, _ = stored(str(single))
    assert rows == len(sharded)  # no URL twice
    assert sharded == expected  # nothing lost, nothing different: content hash for content hash
    assert len(expected) == FEEDS * ITEMS
    assert pending == 0  # each shard merged what it staged before it ended
    assert merged > 0  # the shards staged their batches (the shared lake's path was taken)
    # each shard took its own feeds, and between them all of them: every feed was fetched once
    con = connect(postgres_catalog, read_only=True)
    try:
        fetched = con.execute("select feed_url, count(*) from feed_fetches group by 1").fetchall()
        ok = con.execute("select count(*) from articles where extraction_status = 'ok'").fetchone()[0]
    finally:
        con.close()
    assert len(fetched) == FEEDS and all(n == 1 for _, n in fetched)
    # search is never stale: the shared index holds every extracted article both shards merged
    import tantivy

    from warehouse.connection import lake_of

    index = tantivy.Index.open(str(lake_of(postgres_catalog, data_path=str(data) + os.sep).search_dir))
    assert index.searcher().num_docs == ok > 0
