"""Sources beside feeds, end to end: a site found by `feeds add`, ingested twice by real Prefect runs."""

from __future__ import annotations

import pytest

from core.records import FeedSource
from flows.ingest import ingest
from tests.support.site import ARTICLES, serve_site
from tests.tasks.test_sitemaps import HOSTILE
from warehouse.connection import connect, open_warehouse
from warehouse.feeds import save_feeds
from wirehouse.cli import main

pytestmark = pytest.mark.usefixtures("prefect_harness")


def rows(path, sql):
    con = connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_found_site_is_ingested_once_and_a_second_run_fetches_no_article(warehouse_path, capsys):
    with serve_site() as site:
        assert main(["feeds", "add", site.base + "/", "--warehouse", str(warehouse_path)]) == 0
        capsys.readouterr()
        site.log.clear()
        first = ingest(warehouse=str(warehouse_path))
        assert first.feeds == 6 and first.feeds_failed == 0
        stored = rows(warehouse_path, "select url, feed_url, title from articles order by url")
        # Every source's articles, each exactly once, though feed and sitemaps list some twice.
        assert [url for url, _, _ in stored] == sorted(site.article_urls.values())
        for n in ARTICLES:
            assert site.requests(f"/a/{n}.html") == 1, n
        by_url = {url: (feed, title) for url, feed, title in stored}
        assert by_url[site.article_urls[4]] == (f"{site.base}/news-sitemap.xml.gz", "Artikel 4")
        assert by_url[site.article_urls[5]][0] == f"{site.base}/sitemap_index.xml"
        assert site.requests("/archive-sitemap.xml") == 1

        site.log.clear()
        second = ingest(warehouse=str(warehouse_path))
        assert (second.feeds, second.feeds_failed, second.new_entries) == (6, 0, 0)
        assert [p for p in site.log if p.startswith("/a/")] == []  # no article fetched again
        # The index is read again, but its 2020 sitemap is older than the cursor: not fetched.
        assert site.requests("/sitemap_index.xml") == 1
        assert site.requests("/archive-sitemap.xml") == 0
    assert rows(warehouse_path, "select count(*), count(distinct url) from articles")[0] == (7, 7)
    fetches = rows(
        warehouse_path, "select run_id, count(*), count(distinct feed_url) from feed_fetches group by 1"
    )
    assert sorted((n, d) for _, n, d in fetches) == [(6, 6), (6, 6)]  # one row per source per run
    kinds = dict(rows(warehouse_path, "select feed_url, kind from feeds"))
    assert kinds[f"{site.base}/news-sitemap.xml.gz"] == "news-sitemap"
    cursors = rows(warehouse_path, "select count(*) from feeds where cursor_at is null")
    assert cursors == [(0,)]


def test_hostile_sitemaps_are_recorded_failures_and_the_run_goes_on(httpserver, warehouse_path):
    expected = {}
    for path, (body, content_type, reason) in HOSTILE.items():
        httpserver.expect_request(path).respond_with_data(body(), content_type=content_type)
        expected[httpserver.url_for(path)] = reason
    loop = httpserver.url_for("/loop.xml")
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    httpserver.expect_request("/loop.xml").respond_with_data(
        f"<sitemapindex {ns}><sitemap><loc>{loop}</loc></sitemap></sitemapindex>", content_type="text/xml"
    )
    expected[loop] = "sitemap_loop"
    with serve_site() as site:
        good = f"{site.base}/pages-sitemap.xml"
        with open_warehouse(warehouse_path, migrate=True) as con:
            save_feeds(con, [FeedSource(url, kind="sitemap") for url in [*expected, good]], "test")
        summary = ingest(warehouse=str(warehouse_path))
    assert (summary.feeds, summary.feeds_failed) == (len(expected) + 1, len(expected))
    recorded = dict(rows(warehouse_path, "select feed_url, error_reason from feed_fetches"))
    assert recorded == {**expected, good: None}
    failures = rows(warehouse_path, "select count(*) from failures where kind = 'feed'")
    assert failures == [(len(expected),)]
    assert rows(warehouse_path, "select count(*) from articles")[0][0] == 2
