"""Serve a truth.jsonl corpus (e.g. ../shared/corpora/fundus) on loopback as link-only RSS feeds."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "fundus"
# Items per feed: news feeds carry a few dozen items; a feed per publisher with one or two items each
# would make the benchmark measure per-feed overhead (hundreds of feeds for a thousand pages).
FEED_ITEMS = 25


@dataclass(frozen=True)
class CorpusPage:
    """One page of the corpus with its ground truth."""

    path: str  # served path, e.g. /c0/de/BR_2024_04_22.html
    file: Path
    publisher: str
    truth: dict[str, Any]


def load_truth(corpus: Path) -> list[dict[str, Any]]:
    """Read truth.jsonl of a corpus folder."""
    with (corpus / "truth.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def corpus_pages(corpus: Path, copies: int = 1, prefix: str = "c") -> list[CorpusPage]:
    """List the pages to serve: every truth row, ``copies`` times under distinct URL prefixes."""
    pages = []
    for copy in range(copies):
        for row in load_truth(corpus):
            name = re.sub(r"\.html\.gz$", ".html", row["file"])
            publisher = row.get("publisher", "")  # the open-web corpus has none
            pages.append(CorpusPage(f"/{prefix}{copy}/{name}", corpus / row["file"], publisher, row))
    return pages


def rss_for(base: str, title: str, pages: list[CorpusPage]) -> bytes:
    """A minimal RSS 2.0 feed whose items carry only <link> and <guid>."""
    items = "".join(
        f"<item><link>{escape(base + p.path)}</link><guid>{escape(base + p.path)}</guid></item>"
        for p in pages
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>{escape(base)}</link><description>corpus</description>{items}</channel></rss>"
    ).encode()


@cache
def _page_bytes(path: Path) -> bytes:
    # Decompressed once per file, not per request: the server shares the machine with what it measures.
    return gzip.decompress(path.read_bytes())


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: with more concurrent connects the kernel drops SYNs
    # and clients wait out a 1 s retransmit, which the benchmark would blame on the client.
    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the kill trial's SIGKILL) resets its connections: that is the
        # trial working, not a server fault worth a traceback. Anything else is still printed.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as news sites serve: every response carries a Content-Length.
    protocol_version = "HTTP/1.1"

    def __init__(self, *args: Any, routes: dict[str, tuple[str, Any]], **kwargs: Any) -> None:
        self._routes = routes
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        route = self._routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        content_type, source = route
        body = _page_bytes(source) if isinstance(source, Path) else source
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == etag:  # feeds answer conditional GETs, as most do
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if not isinstance(source, Path):
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_corpus(corpus: Path, copies: int = 1) -> Iterator[tuple[str, str, list[CorpusPage]]]:
    """Serve the corpus pages and link-only RSS feeds, plus an OPML of them.

    Feeds: per copy and country, pages in corpus order, ``FEED_ITEMS`` items per feed at most. Feeds
    carry an ETag and answer ``If-None-Match`` with 304; pages are served without validators.

    Yields:
        ``(base_url, opml_url, pages)``.
    """
    with serve_pages(corpus_pages(corpus, copies)) as served:
        yield served


@contextmanager
def serve_pages(pages: list[CorpusPage]) -> Iterator[tuple[str, str, list[CorpusPage]]]:
    """Serve these pages (of one corpus or several) as :func:`serve_corpus` does."""
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    routes: dict[str, tuple[str, Any]] = {p.path: ("text/html; charset=utf-8", p.file) for p in pages}
    by_country: dict[str, list[CorpusPage]] = {}
    for page in pages:
        copy, country = page.path.split("/")[1:3]
        by_country.setdefault(f"{copy}-{country}", []).append(page)
    groups: dict[str, list[CorpusPage]] = {}
    for key, members in by_country.items():
        for start in range(0, len(members), FEED_ITEMS):
            groups[f"{key}-{start // FEED_ITEMS + 1}"] = members[start : start + FEED_ITEMS]
    outlines = []
    for key, group in sorted(groups.items()):
        routes[f"/feeds/{key}.rss"] = ("application/rss+xml; charset=utf-8", rss_for(base, key, group))
        outlines.append(f'<outline text="{escape(key)}" type="rss" xmlUrl="{base}/feeds/{key}.rss"/>')
    opml = f'<?xml version="1.0"?><opml version="2.0"><head><title>corpus</title></head><body>{"".join(outlines)}</body></opml>'
    routes["/corpus.opml"] = ("text/x-opml", opml.encode())
    server.RequestHandlerClass = partial(_Handler, routes=routes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, f"{base}/corpus.opml", pages
    finally:
        server.shutdown()
        server.server_close()
