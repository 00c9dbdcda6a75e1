"""A newsroom of our own on 127.0.0.1: many feeds of plain article pages, for ingests of any size."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORDS = [
    "harbour",
    "council",
    "budget",
    "river",
    "bridge",
    "school",
    "library",
    "festival",
    "tram",
    "station",
    "market",
    "farmers",
    "weather",
    "storm",
    "museum",
    "orchestra",
    "hospital",
    "nurses",
    "election",
    "mayor",
    "district",
    "street",
    "repair",
    "plan",
    "vote",
    "summer",
    "winter",
    "train",
    "delay",
    "union",
    "talks",
    "factory",
    "jobs",
    "energy",
    "prices",
    "solar",
    "roof",
    "football",
    "club",
    "stadium",
    "season",
]


def page_html(feed: int, item: int, items: int) -> bytes:
    """A plain news page of our own: a headline and five paragraphs that differ from page to page."""
    seed = feed * items + item
    paragraphs = []
    for p in range(5):
        words = [WORDS[(seed * 7 + p * 13 + i * 5) % len(WORDS)] for i in range(40)]
        paragraphs.append(f"<p>{' '.join(words).capitalize()}, said report number {seed}-{p}.</p>")
    title = f"Report {seed}: {WORDS[seed % len(WORDS)]} and {WORDS[(seed * 3) % len(WORDS)]}"
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{''.join(paragraphs)}</article></body></html>"
    ).encode()


def feed_xml(base: str, feed: int, items: int) -> bytes:
    items = "".join(
        f"<item><title>Report {feed * items + i}</title><link>{base}/a/{feed}/{i}.html</link>"
        f"<guid>{base}/a/{feed}/{i}.html</guid></item>"
        for i in range(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {feed}</title>{items}</channel></rss>'.encode()


@contextmanager
def newsroom(feeds: int, items: int) -> Iterator[str]:
    """Serve ``feeds`` feeds of ``items`` pages each on 127.0.0.1; yields the base URL.

    ``/feeds.opml`` lists them all, ``/feeds.opml?first=A&last=B`` the feeds A to B (inclusive).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if url.path == "/feeds.opml":
                query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
                chosen = range(query.get("first", 0), query.get("last", feeds - 1) + 1)
                outlines = "".join(f'<outline type="rss" xmlUrl="{base}/feed/{n}.xml"/>' for n in chosen)
                body, kind = f"<opml version='2.0'><body>{outlines}</body></opml>".encode(), "text/x-opml"
            elif parts[0] == "feed":
                body, kind = feed_xml(base, int(parts[1].removesuffix(".xml")), items), "application/rss+xml"
            elif parts[0] == "a":
                body, kind = page_html(int(parts[1]), int(parts[2].removesuffix(".html")), items), "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
