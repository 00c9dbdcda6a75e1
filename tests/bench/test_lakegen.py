"""The lake generator makes a normal wirehouse lake whose stories are the ingest's."""

from __future__ import annotations

import warehouse
from bench import lakegen
from tasks import wirecopy
from warehouse.connection import lake_of, open_warehouse
from warehouse.search import search


def test_a_small_generated_lake_is_a_valid_lake_with_wire_copy_stories(tmp_path):
    path = tmp_path / "news.sqlite"
    stats = lakegen.fill(path, 300, seed=3, workers=0, chunk=100)
    with open_warehouse(path, read_only=True) as con:

        def one(sql):
            return con.execute(sql).fetchone()[0]

        assert not warehouse.needs_migration(con)  # every migration applied, the views made
        assert one("SELECT count(*) FROM articles") == 300
        assert one("SELECT count(DISTINCT url) FROM articles") == 300
        ok = one("SELECT count(*) FROM articles WHERE extraction_status = 'ok'")
        assert 270 <= ok < 300  # a few HTTP errors, as a real lake has
        assert one("SELECT count(*) FROM raw_pages") == ok
        assert one("SELECT count(*) FROM story_keys") == wirecopy.BANDS * ok
        assert one("SELECT count(*) FROM quotes") > 0
        assert one("SELECT count(*) FROM stories WHERE size > 1 AND outlets_count > 1") >= 5
        days = one("SELECT date_diff('day', min(published_at), max(published_at)) FROM article_store")
        assert days > 300
        rows = con.execute(
            "SELECT url, coalesce(published_at, fetched_at), fingerprint, story_id FROM article_store"
        )
        stored = rows.fetchall()
        # The stories are those the ingest's grouping gives the same articles.
        grouped = wirecopy.group_stories(wirecopy.FingerprintedArticle(u, t, f) for u, t, f, _ in stored)
        assert {u: s for u, _, _, s in stored} == grouped
        title = one("SELECT title FROM articles WHERE extraction_status = 'ok' ORDER BY url LIMIT 1")
        hits = search(con, lake_of(path).search_dir, title, limit=5)
        assert hits and stats.index_docs == ok
    assert stats.articles == 300 and stats.disk_bytes > 0
