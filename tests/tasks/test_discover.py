"""Discovery: declared feeds, robots.txt sitemaps (pure), and a whole site found over loopback HTTP."""

import re

import pytest

from core.settings import Settings
from tasks.discover import (
    USUAL_FEED_PATHS,
    DiscoveryError,
    declared_feeds,
    discover,
    robots_sitemaps,
    site_name,
)
from tasks.http import HttpClient
from tests.support.site import serve_site

SETTINGS = Settings(allow_private_hosts=frozenset({"127.0.0.1", "localhost"}), host_delay=0, total_timeout=10)


def test_declared_feeds_by_type_resolved_against_base():
    page = b"""<html><head><base href="https://paper.example/de/">
    <link rel="alternate" type="application/rss+xml" title=" Alles " href="rss.xml">
    <link rel="alternate nofollow" type="application/atom+xml; charset=utf-8" href="/atom">
    <link rel="ALTERNATE" type="application/feed+json" href="https://paper.example/feed.json">
    <link rel="alternate" type="text/html" hreflang="en" href="/en/">
    <link rel="stylesheet" type="application/rss+xml" href="/not-a-feed.xml">
    <link rel="alternate" type="application/rss+xml" href="rss.xml">
    <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
    </head><body></body></html>"""
    assert declared_feeds(page, "https://paper.example/") == [
        ("https://paper.example/de/rss.xml", "rss", "Alles"),
        ("https://paper.example/atom", "atom", None),
        ("https://paper.example/feed.json", "json", None),
    ]
    assert declared_feeds(b"", "https://paper.example/") == []


def test_robots_sitemap_lines():
    text = "User-agent: *\nDisallow: /x\nSitemap: https://paper.example/a.xml\n  sitemap:/b.xml # rel\nSITEMAP: https://paper.example/a.xml\nSitemap: ftp://x/c.xml\n"
    assert robots_sitemaps(text, "https://paper.example/robots.txt") == [
        "https://paper.example/a.xml",
        "https://paper.example/b.xml",
    ]


def test_site_name():
    assert site_name("https://WWW.Paper.example/de/") == "paper.example"
    assert site_name("http://127.0.0.1:8080/") == "127.0.0.1:8080"


def test_a_homepage_leads_to_every_feed_and_sitemap():
    with serve_site() as site, HttpClient(SETTINGS) as client:
        findings = discover(client, site.base + "/", SETTINGS)
    b = site.base
    got = {f.url: (f.kind, f.via, f.stored) for f in findings}
    assert got == {
        f"{b}/news.rss": ("rss", "declared", True),
        f"{b}/feed.json": ("json", "declared", True),
        f"{b}/atom.xml": ("atom", "usual path", True),
        f"{b}/sitemap_index.xml": ("sitemap", "robots.txt", True),
        f"{b}/news-sitemap.xml.gz": ("news-sitemap", f"index {b}/sitemap_index.xml", True),
        f"{b}/archive-sitemap.xml": ("sitemap", f"index {b}/sitemap_index.xml", False),
        f"{b}/pages-sitemap.xml": ("sitemap", "robots.txt", True),
    }
    assert {f.category for f in findings} == {site_name(b)}
    assert next(f for f in findings if f.url.endswith("/news.rss")).title == "Stadtblatt RSS"
    # Every usual path asked for once at most, nothing asked twice.
    for path in USUAL_FEED_PATHS:
        assert site.requests(path) <= 1
    assert max(site.requests(p) for p in set(site.log)) == 1


def test_a_feed_or_sitemap_url_is_taken_as_it_is():
    with serve_site() as site, HttpClient(SETTINGS) as client:
        (feed,) = discover(client, site.base + "/atom.xml", SETTINGS)
        index = discover(client, site.base + "/sitemap_index.xml", SETTINGS)
    assert (feed.kind, feed.via, feed.title) == ("atom", "given", "Stadtblatt Atom")
    assert [(f.url.removeprefix(site.base), f.kind, f.stored) for f in index] == [
        ("/sitemap_index.xml", "sitemap", True),
        ("/news-sitemap.xml.gz", "news-sitemap", True),
        ("/archive-sitemap.xml", "sitemap", False),
    ]
    assert site.requests("/robots.txt") == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nothing-here", "HTTP 404"),
        ("/broken.xml.gz", "broken gzip"),
        ("/logo.png", "neither a page, a feed nor a sitemap (image/png)"),
    ],
)
def test_unusable_urls_are_one_clear_error(path, message):
    with serve_site() as site, HttpClient(SETTINGS) as client:
        site.documents["/broken.xml.gz"] = ("application/gzip", b"\x1f\x8b\x08\x00broken")
        site.documents["/logo.png"] = ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(100))
        with pytest.raises(DiscoveryError, match=re.escape(message)):
            discover(client, site.base + path, SETTINGS)
