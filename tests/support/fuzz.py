"""Hostile mutations of real news pages, and a loopback site that serves them through link-only feeds.

Each mutation keeps the page a page (the article is still there) and breaks one thing a stranger's server
can break: absurd dates and numbers, empty and huge strings, invalid UTF-8, JSON-LD nested or cyclic
beyond reason, elements with absurdly many attributes.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

Mutation = Callable[[bytes, random.Random], bytes]

_ISO_DATE = re.compile(rb"\b(19|20)\d\d-\d\d-\d\d")
_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(rb"<body[^>]*>", re.IGNORECASE)
_META_CONTENT = re.compile(rb'(<meta[^>]*\scontent=")([^"]*)(")', re.IGNORECASE)
_TITLE = re.compile(rb"(<title[^>]*>)(.*?)(</title>)", re.IGNORECASE | re.DOTALL)
_OPEN_TAG = re.compile(rb"<(p|div|article|h1|span)\b", re.IGNORECASE)


def _in_head(page: bytes, extra: bytes) -> bytes:
    match = _HEAD_END.search(page)
    return page[: match.start()] + extra + page[match.start() :] if match else extra + page


def _ld(json_text: str) -> bytes:
    return b'<script type="application/ld+json">' + json_text.encode() + b"</script>"


def year_zero(page: bytes, _rng: random.Random) -> bytes:
    """Every ISO date on the page becomes year 0 or 1, and JSON-LD says 0001-01-01."""
    page = _ISO_DATE.sub(b"0000-01-01", page)
    return _in_head(page, _ld('{"@type":"NewsArticle","datePublished":"0001-01-01T00:00:00Z"}'))


def year_9999(page: bytes, _rng: random.Random) -> bytes:
    """Every ISO date on the page lies in the year 9999."""
    page = _ISO_DATE.sub(b"9999-12-31", page)
    return _in_head(page, b'<meta property="article:published_time" content="9999-12-31T23:59:59+00:00">')


def huge_numbers(page: bytes, _rng: random.Random) -> bytes:
    """JSON-LD whose numbers are 10^20, NaN and Infinity where names, counts and dates belong."""
    return _in_head(
        page,
        _ld(
            '{"@type":"NewsArticle","wordCount":1e20,"headline":1e20,"datePublished":1e20,'
            '"author":[{"@type":"Person","name":NaN},1e20],"isAccessibleForFree":NaN,'
            '"image":{"url":Infinity,"width":-1e308},"inLanguage":12}'
        ),
    )


def empty_strings(page: bytes, _rng: random.Random) -> bytes:
    """Every meta content and the <title> are empty."""
    page = _META_CONTENT.sub(rb"\1\3", page)
    return _TITLE.sub(rb"\1\3", page)


def megabyte_strings(page: bytes, _rng: random.Random) -> bytes:
    """A 1 MB title, author, description and JSON-LD headline."""
    big = "Wort " * 200_000
    return _in_head(
        page,
        f'<meta name="author" content="{big}"><meta name="description" content="{big}">'.encode()
        + _ld(f'{{"@type":"NewsArticle","headline":"{big}","author":{{"name":"{big}"}}}}'),
    ).replace(b"<title>", b"<title>" + big.encode(), 1)


def invalid_utf8(page: bytes, rng: random.Random) -> bytes:
    """Bytes that are not UTF-8 (lone continuation bytes, surrogates, overlongs) sprinkled over the page."""
    junk = [b"\xff", b"\xfe\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80\x80", b"\x00"]
    cuts = sorted(rng.randrange(len(page)) for _ in range(40))
    pieces, last = [], 0
    for cut in cuts:
        pieces += [page[last:cut], rng.choice(junk)]
        last = cut
    return b"".join([*pieces, page[last:]])


def nested_json_ld(page: bytes, _rng: random.Random) -> bytes:
    """JSON-LD nested 100,000 levels deep, as objects and as lists."""
    return _in_head(page, _ld('{"a":' * 100_000 + "1" + "}" * 100_000) + _ld("[" * 100_000 + "]" * 100_000))


def cyclic_json_ld(page: bytes, _rng: random.Random) -> bytes:
    """JSON-LD whose nodes refer to each other in a circle (article -> author -> article)."""
    return _in_head(
        page,
        _ld(
            '{"@context":"https://schema.org","@graph":['
            '{"@id":"#a","@type":"NewsArticle","author":{"@id":"#p"},"isPartOf":{"@id":"#a"},'
            '"mainEntityOfPage":{"@id":"#a"}},'
            '{"@id":"#p","@type":"Person","name":{"@id":"#p"},"worksFor":{"@id":"#a"}}]}'
        ),
    )


def attribute_bomb(page: bytes, _rng: random.Random) -> bytes:
    """The first article-ish element carries 100,000 attributes."""
    bomb = b" ".join(b'data-x%d="%d"' % (i, i) for i in range(100_000))
    match = _OPEN_TAG.search(page)
    if not match:
        return page
    return page[: match.end()] + b" " + bomb + page[match.end() :]


def deep_markup(page: bytes, _rng: random.Random) -> bytes:
    """50,000 unclosed <div>s before the article."""
    match = _BODY_START.search(page)
    at = match.end() if match else 0
    return page[:at] + b"<div>" * 50_000 + page[at:]


def truncated(page: bytes, _rng: random.Random) -> bytes:
    """The page cut off in the middle, as a dropped connection leaves it."""
    return page[: len(page) // 2]


MUTATIONS: dict[str, Mutation] = {
    "year-zero": year_zero,
    "year-9999": year_9999,
    "huge-numbers": huge_numbers,
    "empty-strings": empty_strings,
    "megabyte-strings": megabyte_strings,
    "invalid-utf8": invalid_utf8,
    "nested-json-ld": nested_json_ld,
    "cyclic-json-ld": cyclic_json_ld,
    "attribute-bomb": attribute_bomb,
    "deep-markup": deep_markup,
    "truncated": truncated,
}


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, *args: object, site: dict[str, tuple[str, bytes]], **kwargs: object) -> None:
        self._site = site
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        found = self._site.get(self.path)
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def serve_pages(pages: dict[str, bytes], per_feed: int = 10) -> Iterator[tuple[str, str]]:
    """Serve ``{path: html}`` on loopback with link-only RSS feeds and an OPML list of them.

    Args:
        pages: Served path (``/x/y.html``) to page bytes.
        per_feed: Items per feed.

    Yields:
        The base URL and the OPML list's URL.
    """
    site: dict[str, tuple[str, bytes]] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, site=site))
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    paths = sorted(pages)
    outlines = []
    for number, start in enumerate(range(0, len(paths), per_feed)):
        items = "".join(
            f"<item><link>{escape(base + p)}</link><guid>{escape(base + p)}</guid></item>"
            for p in paths[start : start + per_feed]
        )
        feed = f"/feeds/{number}.rss"
        site[feed] = (
            "application/rss+xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{number}</title>{items}</channel></rss>'.encode(),
        )
        outlines.append(f'<outline type="rss" text="f{number}" xmlUrl="{escape(base + feed)}"/>')
    site["/list.opml"] = (
        "text/x-opml",
        f'<?xml version="1.0"?><opml version="2.0"><body>{"".join(outlines)}</body></opml>'.encode(),
    )
    for path, body in pages.items():
        site[path] = ("text/html; charset=utf-8", body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, base + "/list.opml"
    finally:
        server.shutdown()
        server.server_close()
