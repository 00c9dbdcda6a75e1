"""The seed wire story, served as a page behind a feed, comes out enriched end to end."""

from __future__ import annotations

import html

import pytest

from flows.ingest import ingest
from tests.conftest import SHARED
from warehouse.connection import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")


def seed_page() -> tuple[str, list[str]]:
    files = sorted((SHARED / "seed").glob("*.txt")) if (SHARED / "seed").is_dir() else []
    if not files:
        pytest.skip("../shared/seed is absent")
    text = files[0].read_text(encoding="utf-8")
    start = text.index("Brüssel (dpa)")  # the file opens with a corpus header before the story
    blocks = [b.strip() for b in text[start:].split("\n") if b.strip()]
    # Lines without closing punctuation are the story's sub-headings.
    headings = [b for b in blocks if not b.endswith((".", "»", "«", '"', ":"))]
    body = "".join(
        f"<h2>{html.escape(b)}</h2>" if b in headings else f"<p>{html.escape(b)}</p>" for b in blocks
    )
    page = (
        "<html lang='de'><head><meta charset='utf-8'><title>Nato provoziert Putin | Testblatt</title>"
        "<meta property='og:site_name' content='Testblatt'></head><body><nav><a href='/'>Start</a></nav>"
        f"<article><h1>Nato provoziert Putin</h1>{body}</article><footer>Impressum</footer></body></html>"
    )
    return page, headings


def test_seed_story_is_enriched_end_to_end(httpserver, warehouse_path):
    page, headings = seed_page()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)  # no robots.txt: all allowed
    httpserver.expect_request("/nato.html").respond_with_data(page, content_type="text/html; charset=utf-8")
    rss = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        f"<item><link>{httpserver.url_for('/nato.html')}</link><guid>seed</guid></item></channel></rss>"
    )
    httpserver.expect_request("/feed.rss").respond_with_data(rss, content_type="application/rss+xml")
    feed_list = warehouse_path.parent / "feeds.txt"
    feed_list.write_text(httpserver.url_for("/feed.rss") + "\n")
    ingest(feeds=str(feed_list), warehouse=str(warehouse_path))
    con = connect(warehouse_path, read_only=True)
    try:
        language, place, agencies, text, url = con.execute(
            "select language, dateline_place, agencies, text, url from articles"
        ).fetchone()
        quotes = [
            q[0]
            for q in con.execute(
                "select quote from quotes where article_url = ? order by ordinal", [url]
            ).fetchall()
        ]
    finally:
        con.close()
    assert (language, place, agencies) == ("de", "Brüssel", ["dpa"])
    assert text.startswith("Brüssel (dpa) - Die Nato provoziert")
    lines = text.split("\n")
    assert all(h in lines for h in headings) and len(headings) == 3
    assert (
        "Er ist nicht in der Lage, seinen Angriff auf die Ukraine ohne ausländische Unterstützung aufrechtzuerhalten."
        in quotes
    )
    assert "Terror" in quotes and len(quotes) >= 5
