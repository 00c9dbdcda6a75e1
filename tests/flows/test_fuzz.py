"""Fuzz the whole ingest: real pages with hostile metadata and markup, served beside good pages."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from flows.ingest import ingest
from tests.conftest import CORPORA
from tests.support.fuzz import MUTATIONS, serve_pages
from warehouse.connection import connect
from wirehouse.demo import NEWSROOM

pytestmark = pytest.mark.usefixtures("prefect_harness")

BASE_PAGES = 4  # pages each mutation is applied to
GOOD_PAGES = 12
# What a page's row says about the page itself (not where or when it was served).
CONTENT = (
    "title, text, language, extraction_status, word_count, published_at, authors, description, "
    "agencies, dateline_place, keywords, content_hash, site_name, image"
)


def real_pages() -> list[bytes]:
    """Real news pages: the shared corpus where it is there, else the bundled sample newsroom."""
    corpus = CORPORA / "fundus"
    if corpus.is_dir():
        files = sorted(corpus.glob("*/*.html.gz"))
        # Spread over countries and publishers, the same pages every time.
        return [gzip.decompress(f.read_bytes()) for f in files[:: max(1, len(files) // 16)]][:16]
    return [p.read_bytes() for p in sorted(NEWSROOM.glob("*/*.html"))][:16]


def rows(path: Path) -> dict[str, tuple]:
    con = connect(path, read_only=True)
    try:
        result = con.execute(f"select url, {CONTENT} from articles").fetchall()
    finally:
        con.close()
    return {url.split("/", 3)[3]: tuple(rest) for url, *rest in result}


def test_hostile_pages_never_fail_a_batch_and_good_pages_are_unchanged(tmp_path):
    pages = real_pages()
    assert len(pages) >= BASE_PAGES + 4
    rng = random.Random(20261130)
    good = {f"/good/{i}.html": page for i, page in enumerate(pages[:GOOD_PAGES])}
    bad = {
        f"/bad/{name}/{i}.html": mutate(page, rng)
        for name, mutate in MUTATIONS.items()
        for i, page in enumerate(pages[-BASE_PAGES:])
    }

    baseline_path = tmp_path / "baseline.sqlite"
    with serve_pages(good) as (_base, opml):
        ingest(feeds=opml, warehouse=str(baseline_path), batch_size=5)
    baseline = rows(baseline_path)
    assert len(baseline) == len(good)

    path = tmp_path / "fuzz.sqlite"
    with serve_pages({**good, **bad}) as (_base, opml):
        first = ingest(feeds=opml, warehouse=str(path), batch_size=5)
        second = ingest(warehouse=str(path), batch_size=5)
    stored = rows(path)

    # The flow completed (a failed batch fails it) and every served page is one row.
    assert sum(first.articles_by_status.values()) == len(good) + len(bad)
    assert set(stored) == {p.lstrip("/") for p in [*good, *bad]}
    # A page that failed is not fetched again and again.
    assert second.new_entries == 0
    for key in good:
        assert stored[key.lstrip("/")] == baseline[key.lstrip("/")], key
    con = connect(path, read_only=True)
    try:
        absurd = con.execute(
            "select url, published_at from articles where published_at < '1990-01-01' "
            "or published_at > now() + interval 1 day or length(title) > 1000 or word_count < 0"
        ).fetchall()
        # Every view of the public contract still answers over the hostile rows.
        for view in ("articles", "feed_fetches", "stories", "failures", "quotes"):
            con.execute(f"select * from {view}").fetchall()
    finally:
        con.close()
    assert absurd == []
