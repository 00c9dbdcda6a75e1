"""Sitemaps: parsing (indexes, urlsets, Google News, gzip, dates) and hostile sitemaps over loopback HTTP."""

import functools
import gzip
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.records import FeedSource
from core.settings import Settings
from tasks.feeds import fetch_feed_result
from tasks.http import HttpClient
from tasks.sitemaps import (
    SitemapError,
    SitemapUrl,
    check_content_type,
    gunzip,
    looks_like_sitemap,
    newer_than,
    parse_sitemap,
    parse_w3c_datetime,
)

SETTINGS = Settings(allow_private_hosts=frozenset({"127.0.0.1", "localhost"}), host_delay=0, total_timeout=10)
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'

URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS}>
  <url><loc>https://paper.example/politics/budget</loc><lastmod>2026-11-20T08:00:00+01:00</lastmod>
    <image:image xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
      <image:loc>https://paper.example/img/budget.jpg</image:loc></image:image></url>
  <url><loc> https://paper.example/sport/final </loc><lastmod>2026-11-21</lastmod></url>
  <url><loc>https://paper.example/politics/budget</loc></url>
  <url><loc>mailto:desk@paper.example</loc></url>
  <url><loc>https://paper.example/undated</loc></url>
</urlset>""".encode()

NEWS = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS} {NEWS_NS}>
  <url><loc>https://paper.example/2026/11/harbour-strike</loc>
    <news:news><news:publication><news:name>The Paper</news:name><news:language>de</news:language></news:publication>
      <news:publication_date>2026-11-25T06:30:00Z</news:publication_date>
      <news:title>Hafenarbeiter &amp; Lotsen streiken</news:title></news:news></url>
</urlset>""".encode()

INDEX = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex {NS}>
  <sitemap><loc>https://paper.example/news.xml.gz</loc><lastmod>2026-11-25T07:00:00Z</lastmod></sitemap>
  <sitemap><loc>https://paper.example/2019.xml</loc><lastmod>2019-12-31</lastmod></sitemap>
</sitemapindex>""".encode()

BOMB = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/&g;</loc></url></urlset>"""
HTML = b"<!DOCTYPE html><html><head><title>Page not found</title></head><body><p>Sorry.</p></body></html>"


def urlset(locs):
    body = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<?xml version="1.0"?><urlset {NS}>{body}</urlset>'.encode()


def test_urlset_entries_in_order_each_once_http_only():
    sitemap = parse_sitemap(URLSET)
    assert not sitemap.is_index and not sitemap.news and sitemap.kind == "sitemap"
    assert [u.loc for u in sitemap.urls] == [
        "https://paper.example/politics/budget",
        "https://paper.example/sport/final",
        "https://paper.example/undated",
    ]
    assert sitemap.urls[0].lastmod == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    assert sitemap.urls[1].lastmod == datetime(2026, 11, 21, tzinfo=UTC)


def test_news_sitemap_fields_read_like_feed_entry_fields():
    sitemap = parse_sitemap(NEWS)
    assert sitemap.news and sitemap.kind == "news-sitemap"
    (entry,) = sitemap.urls
    assert entry.title == "Hafenarbeiter & Lotsen streiken"
    assert entry.language == "de"
    assert entry.published_at == entry.dated == datetime(2026, 11, 25, 6, 30, tzinfo=UTC)


def test_index_lists_sitemaps_and_gzip_is_undone():
    sitemap = parse_sitemap(gzip.compress(INDEX))
    assert sitemap.is_index and sitemap.kind == "sitemap"
    assert [u.loc for u in sitemap.urls] == [
        "https://paper.example/news.xml.gz",
        "https://paper.example/2019.xml",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-25T06:30Z", datetime(2026, 11, 25, 6, 30, tzinfo=UTC)),
        ("2026-11-25T06:30:00.5+01:00", datetime(2026, 11, 25, 5, 30, 0, 500000, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_w3c_datetimes(text, expected):
    assert parse_w3c_datetime(text) == expected


def test_newer_than_keeps_undated_and_sorts_newest_first():
    old = SitemapUrl("https://a.example/old", lastmod=datetime(2020, 1, 1, tzinfo=UTC))
    new = SitemapUrl("https://a.example/new", lastmod=datetime(2026, 11, 1, tzinfo=UTC))
    newest = SitemapUrl("https://a.example/newest", published_at=datetime(2026, 11, 2, tzinfo=UTC))
    undated = SitemapUrl("https://a.example/undated")
    since = datetime(2025, 1, 1, tzinfo=UTC)
    assert newer_than([old, undated, new, newest], since) == [newest, new, undated]
    assert newer_than([old, new], None) == [new, old]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BOMB, "xml_doctype"),
        (HTML, "not_a_sitemap"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "not_a_sitemap"),
        (b"<urlset><url><loc>https://x.example/a</loc>", "not_a_sitemap"),
        (gzip.compress(URLSET)[:-20], "bad_gzip"),
        (b"\x1f\x8b\x08\x00garbage-after-the-magic", "bad_gzip"),
        (b"", "not_a_sitemap"),
    ],
)
def test_hostile_documents_are_refused_with_a_reason(data, reason):
    with pytest.raises(SitemapError) as info:
        parse_sitemap(data)
    assert info.value.reason == reason


def test_url_cap_stops_the_parse():
    with pytest.raises(SitemapError) as info:
        parse_sitemap(urlset(f"https://x.example/{n}" for n in range(11)), max_urls=10)
    assert info.value.reason == "too_many_urls"
    assert len(parse_sitemap(urlset(f"https://x.example/{n}" for n in range(10)), max_urls=10).urls) == 10


def test_gzip_bomb_is_cut_at_the_cap():
    with pytest.raises(SitemapError) as info:
        gunzip(gzip.compress(b" " * 2_000_000), max_bytes=1_000_000)
    assert info.value.reason == "too_large"


def test_sniffing_and_content_types():
    assert (
        looks_like_sitemap(URLSET) and looks_like_sitemap(INDEX) and looks_like_sitemap(gzip.compress(NEWS))
    )
    rss_with_urlset_text = b"<?xml version='1.0'?><rss version='2.0'><channel><title><urlset></title>"
    assert not looks_like_sitemap(rss_with_urlset_text)
    assert not looks_like_sitemap(HTML)
    check_content_type("application/xml")
    check_content_type("application/octet-stream")
    check_content_type("")
    with pytest.raises(SitemapError):
        check_content_type("image/png")


# --------------------------------------------------------------------------- over HTTP


def source(url, **kw):
    return FeedSource(url, kind="sitemap", **kw)


def test_index_walk_reads_new_sitemaps_only_and_entries_become_feed_entries(httpserver):
    base = httpserver.url_for("")
    index = f"""<sitemapindex {NS}>
      <sitemap><loc>{base}news.xml.gz</loc><lastmod>2026-11-25T07:00:00Z</lastmod></sitemap>
      <sitemap><loc>{base}2019.xml</loc><lastmod>2019-12-31</lastmod></sitemap></sitemapindex>"""
    news = NEWS.replace(
        b"https://paper.example/2026/11/harbour-strike", f"{base}strike?utm_source=x".encode()
    )
    httpserver.expect_request("/index.xml").respond_with_data(index, content_type="application/xml")
    httpserver.expect_request("/news.xml.gz").respond_with_data(
        gzip.compress(news), content_type="application/x-gzip"
    )
    httpserver.expect_request("/2019.xml").respond_with_data(urlset([f"{base}old"]), content_type="text/xml")
    with HttpClient(SETTINGS) as client:
        first = fetch_feed_result(client, source(httpserver.url_for("/index.xml")), SETTINGS)
        assert first.fetch.error is None and first.fetch.kind == "sitemap"
        assert [e.url for e in first.entries] == [f"{base}strike", f"{base}old"]
        strike = first.entries[0]
        assert (strike.title, strike.language, strike.link) == (
            "Hafenarbeiter & Lotsen streiken",
            "de",
            f"{base}strike?utm_source=x",
        )
        assert strike.published_at == datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
        httpserver.clear_log()
        # With a cursor, the 2019 sitemap is not even fetched and the old entry is not new.
        cursor = datetime(2026, 11, 24, 12, tzinfo=UTC) + timedelta(days=1)
        second = fetch_feed_result(
            client, source(httpserver.url_for("/index.xml"), cursor_at=cursor), SETTINGS
        )
    assert [e.url for e in second.entries] == [f"{base}strike"]
    assert "/2019.xml" not in [request.path for request, _ in httpserver.log]


def test_an_index_is_read_newest_first_up_to_the_per_run_cap(httpserver, monkeypatch):
    import tasks.sitemaps

    monkeypatch.setattr(tasks.sitemaps, "MAX_SITEMAPS_PER_RUN", 2)
    months = ["2026-09", "2026-11", "2026-10"]
    children = "".join(
        f"<sitemap><loc>{httpserver.url_for(f'/{m}.xml')}</loc><lastmod>{m}-28</lastmod></sitemap>"
        for m in months
    )
    httpserver.expect_request("/index.xml").respond_with_data(f"<sitemapindex {NS}>{children}</sitemapindex>")
    for m in months:
        httpserver.expect_request(f"/{m}.xml").respond_with_data(
            f"<urlset {NS}><url><loc>{httpserver.url_for('/a/' + m)}</loc><lastmod>{m}-15</lastmod></url></urlset>"
        )
    with HttpClient(SETTINGS) as client:
        result = fetch_feed_result(client, source(httpserver.url_for("/index.xml")), SETTINGS)
    assert [e.url.rsplit("/", 1)[1] for e in result.entries] == ["2026-11", "2026-10"]
    assert result.fetch.backlog and result.fetch.error is None
    assert "/2026-09.xml" not in [request.path for request, _ in httpserver.log]


@functools.cache
def _million_urls() -> bytes:
    # 10^6 short URLs, gzipped for the wire (the cap counts the uncompressed size, ~26 MB here).
    body = b"".join(b"<url><loc>http://h.example/%d</loc></url>" % n for n in range(1_000_000))
    return gzip.compress(b"<urlset>" + body + b"</urlset>", compresslevel=1)


BROKEN_GZIP = gzip.compress(URLSET)[:-30]
# path -> (body, content type, expected error_reason); bodies built on first use
HOSTILE = {
    "/bomb.xml": (lambda: BOMB, "application/xml", "xml_doctype"),
    "/html.xml": (lambda: HTML, "text/html", "not_a_sitemap"),
    "/image.xml": (lambda: urlset(["https://x.example/a"]), "image/jpeg", "wrong_content_type"),
    "/broken.xml.gz": (lambda: BROKEN_GZIP, "application/gzip", "bad_gzip"),
    "/million.xml.gz": (_million_urls, "application/octet-stream", "too_many_urls"),
}


@pytest.mark.parametrize("path", [*HOSTILE, "/loop.xml", "/deep0.xml", "/gone.xml"])
def test_hostile_sitemaps_end_in_a_recorded_error(httpserver, path):
    if path in HOSTILE:
        body, content_type, _ = HOSTILE[path]
        httpserver.expect_request(path).respond_with_data(body(), content_type=content_type)
    loop = httpserver.url_for("/loop.xml")
    httpserver.expect_request("/loop.xml").respond_with_data(
        f"<sitemapindex {NS}><sitemap><loc>{loop}</loc></sitemap></sitemapindex>", content_type="text/xml"
    )
    for n in range(5):  # index -> index -> index -> ...: deeper than MAX_INDEX_DEPTH
        child = httpserver.url_for(f"/deep{n + 1}.xml")
        httpserver.expect_request(f"/deep{n}.xml").respond_with_data(
            f"<sitemapindex {NS}><sitemap><loc>{child}</loc></sitemap></sitemapindex>",
            content_type="text/xml",
        )
    httpserver.expect_request("/gone.xml").respond_with_data(
        f"<sitemapindex {NS}><sitemap><loc>{httpserver.url_for('/nowhere.xml')}</loc></sitemap></sitemapindex>",
        content_type="text/xml",
    )
    httpserver.expect_request("/nowhere.xml").respond_with_data("not here", status=404)
    expected = {"/loop.xml": "sitemap_loop", "/deep0.xml": "too_deep", "/gone.xml": "http_404"}
    started = time.monotonic()
    with HttpClient(SETTINGS) as client:
        result = fetch_feed_result(client, source(httpserver.url_for(path)), SETTINGS)
    assert time.monotonic() - started < 30
    assert result.entries == ()
    assert result.fetch.error_reason == (expected[path] if path in expected else HOSTILE[path][2])
    assert result.fetch.error
