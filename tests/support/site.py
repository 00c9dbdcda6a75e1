"""A publisher's site on loopback: a homepage with declared feeds, robots.txt, sitemaps and article pages.

The sources overlap on purpose (feed and sitemaps list some articles twice, once with tracking
parameters), every document has an ETag, and every request is logged, so that tests can count fetches.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.faults import LOREM, PAGE

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"

# article number -> which sources list it
ARTICLES = {
    1: ("rss", "pages-sitemap"),
    2: ("rss", "news-sitemap"),
    3: ("json",),
    4: ("news-sitemap",),
    5: ("archive-sitemap",),
    6: ("pages-sitemap",),
    7: ("atom",),
}


class Site:
    """The site's documents by path, and the log of every path requested."""

    def __init__(self, base: str, now: datetime) -> None:
        self.base = base
        self.log: list[str] = []
        self.documents: dict[str, tuple[str, bytes]] = {}
        recent = now - timedelta(hours=2)
        self.article_urls = {n: f"{base}/a/{n}.html" for n in ARTICLES}

        def listed_in(source: str) -> list[int]:
            return [n for n, sources in ARTICLES.items() if source in sources]

        html = "text/html; charset=utf-8"
        self.documents["/"] = (
            html,
            f"""<!DOCTYPE html><html lang="de"><head><title>Stadtblatt</title>
<link rel="alternate" type="application/rss+xml" title="Stadtblatt RSS" href="/news.rss">
<link rel="alternate" type="application/feed+json" title="Stadtblatt JSON" href="{base}/feed.json">
<link rel="stylesheet" href="/style.css"></head><body><h1>Stadtblatt</h1></body></html>""".encode(),
        )
        items = "".join(
            f"<item><title>Artikel {n}</title><link>{self.article_urls[n]}?utm_source=rss</link>"
            f"<guid>{self.article_urls[n]}</guid></item>"
            for n in listed_in("rss")
        )
        self.documents["/news.rss"] = (
            "application/rss+xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Stadtblatt RSS</title>{items}</channel></rss>'.encode(),
        )
        entries = "".join(
            f"<entry><title>Artikel {n}</title><id>urn:stadtblatt:{n}</id>"
            f'<link rel="alternate" href="{self.article_urls[n]}"/><updated>{recent.isoformat()}</updated></entry>'
            for n in listed_in("atom")
        )
        self.documents["/atom.xml"] = (
            "application/atom+xml",
            f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Stadtblatt Atom</title>'
            f"<id>urn:stadtblatt</id><updated>{recent.isoformat()}</updated>{entries}</feed>".encode(),
        )
        self.documents["/feed.json"] = (
            "application/feed+json",
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": "Stadtblatt JSON",
                    "items": [{"id": str(n), "url": self.article_urls[n]} for n in listed_in("json")],
                }
            ).encode(),
        )
        self.documents["/robots.txt"] = (
            "text/plain",
            f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap_index.xml\nsitemap: /pages-sitemap.xml\n".encode(),
        )
        self.documents["/sitemap_index.xml"] = (
            "application/xml",
            f"""<?xml version="1.0"?><sitemapindex xmlns="{SITEMAP_NS}">
<sitemap><loc>{base}/archive-sitemap.xml</loc><lastmod>2020-03-01</lastmod></sitemap>
<sitemap><loc>{base}/news-sitemap.xml.gz</loc><lastmod>{recent.isoformat()}</lastmod></sitemap>
</sitemapindex>""".encode(),
        )
        news = "".join(
            f"<url><loc>{self.article_urls[n]}</loc><news:news><news:publication><news:name>Stadtblatt</news:name>"
            f"<news:language>de</news:language></news:publication>"
            f"<news:publication_date>{recent.isoformat()}</news:publication_date>"
            f"<news:title>Artikel {n}</news:title></news:news></url>"
            for n in listed_in("news-sitemap")
        )
        self.documents["/news-sitemap.xml.gz"] = (
            "application/x-gzip",
            gzip.compress(
                f'<?xml version="1.0"?><urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">{news}</urlset>'.encode()
            ),
        )
        self.documents["/archive-sitemap.xml"] = (
            "application/xml",
            self._urlset(listed_in("archive-sitemap"), "2020-02-29"),
        )
        self.documents["/pages-sitemap.xml"] = (
            "text/xml",
            self._urlset(listed_in("pages-sitemap"), recent.isoformat()),
        )
        for n in ARTICLES:
            self.documents[f"/a/{n}.html"] = (
                html,
                PAGE.format(title=f"Artikel {n}", paras=f"<p>{LOREM * 3} ({n})</p>" * 3).encode(),
            )

    def _urlset(self, numbers: list[int], lastmod: str) -> bytes:
        urls = "".join(
            f"<url><loc>{self.article_urls[n]}</loc><lastmod>{lastmod}</lastmod></url>" for n in numbers
        )
        return f'<?xml version="1.0"?><urlset xmlns="{SITEMAP_NS}">{urls}</urlset>'.encode()

    def requests(self, path: str) -> int:
        """How often a path was requested."""
        return sum(1 for p in self.log if p.split("?")[0] == path)


@contextmanager
def serve_site(now: datetime | None = None) -> Iterator[Site]:
    """Serve a publisher site on a free loopback port for the duration of a ``with`` block."""
    holder: list[Site] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site = holder[0]
            site.log.append(self.path)
            document = site.documents.get(self.path.split("?")[0])
            if document is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            content_type, body = document
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            # The index answers in full every time, so that its sitemaps' lastmod and the cursor decide.
            if self.headers.get("If-None-Match") == etag and self.path != "/sitemap_index.xml":
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(Site(f"http://127.0.0.1:{server.server_address[1]}", now or datetime.now(UTC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
