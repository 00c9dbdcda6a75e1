"""A newsroom on loopback that edits its pages between runs, with a log of every request by host.

Pages answer with an ETag (304 to a matching If-None-Match), so an unchanged page costs no body; a
page can be rewritten, answer 410, or redirect elsewhere between two ingest runs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_BODY_DE = (
    "Der Stadtrat hat am Dienstagabend nach langer Debatte den neuen Haushalt für das kommende Jahr "
    "beschlossen, nachdem die Fraktionen sich auf einen Kompromiss zu den Investitionen geeinigt hatten.",
    "Die Opposition kritisierte die geplanten Ausgaben für den Straßenbau scharf und forderte stattdessen "
    "deutlich mehr Geld für die Sanierung der Schulen und für neue Kindergartenplätze in den Vororten.",
    "Die Bürgermeisterin verteidigte den Entwurf und verwies auf die gestiegenen Kosten für Energie, "
    "Personal und Material, die der Stadt in diesem Jahr bereits erhebliche Mehrausgaben beschert hätten.",
)
_BODY_EN = (
    "The city council approved the new budget on Tuesday evening after a long debate, once the groups had "
    "agreed on a compromise over the planned investments in roads, schools and public transport.",
    "The opposition sharply criticised the spending on road building and asked for far more money to "
    "repair school buildings and to open new nursery places in the outer districts of the city.",
    "The mayor defended the draft and pointed to the rising cost of energy, staff and materials, which had "
    "already forced the city into considerable extra spending during the current year.",
)


def article_page(
    title: str,
    paragraphs: tuple[str, ...] | list[str],
    *,
    lang: str = "de",
    related: tuple[str, ...] = (),
) -> bytes:
    """An article page: a headline, paragraphs and an optional box of related links beside it."""
    paras = "".join(f"<p>{p}</p>" for p in paragraphs)
    box = "".join(f'<li><a href="/other/{n}.html">{t}</a></li>' for n, t in enumerate(related))
    aside = f'<aside class="related"><h2>Mehr zum Thema</h2><ul>{box}</ul></aside>' if related else ""
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<nav><a href='/'>Start</a> <a href='/politik/'>Politik</a></nav>"
        f"<article><h1>{title}</h1>{paras}</article>{aside}<footer>Impressum</footer></body></html>"
    ).encode()


def german(*extra: str) -> list[str]:
    """The German story's paragraphs, with more after them."""
    return [*_BODY_DE, *extra]


def english(*extra: str) -> list[str]:
    """The English story's paragraphs, with more after them."""
    return [*_BODY_EN, *extra]


class EditingNewsroom:
    """Pages by path (status, headers, body), a feed listing the articles, and the request log."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.listed: list[str] = []  # article URLs the feed lists
        self.log: list[tuple[str, str]] = []  # (host, path) of every request
        self._lock = threading.Lock()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The URL of a path on one of the newsroom's host names."""
        return f"http://{host}:{self.port}{path}"

    @property
    def feed(self) -> str:
        """The RSS feed listing every article."""
        return self.url("/feed.rss")

    def publish(self, path: str, body: bytes, host: str = "127.0.0.1") -> str:
        """Serve an article page and list it in the feed; returns its URL."""
        self.pages[path] = (200, {"Content-Type": "text/html; charset=utf-8"}, body)
        url = self.url(path, host)
        if url not in self.listed:
            self.listed.append(url)
        return url

    def edit(self, path: str, body: bytes) -> None:
        """Change a page's body (its ETag changes with it)."""
        self.pages[path] = (200, {"Content-Type": "text/html; charset=utf-8"}, body)

    def gone(self, path: str) -> None:
        """Answer 410 Gone for a page from now on."""
        self.pages[path] = (410, {}, b"gone")

    def redirect(self, path: str, to: str) -> None:
        """Redirect a page permanently (e.g. to its section page)."""
        self.pages[path] = (301, {"Location": to}, b"")

    def page_requests(self, host: str | None = None) -> list[str]:
        """Article page requests so far (not the feed), on one host or all."""
        with self._lock:
            return [p for h, p in self.log if p.endswith(".html") and (host is None or h == host)]

    def _feed(self) -> bytes:
        items = "".join(
            f"<item><title>{u}</title><link>{u}</link><guid>{u}</guid></item>" for u in self.listed
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Editing newsroom</title>'
            f"<link>{self.url('/')}</link>{items}</channel></rss>"
        ).encode()

    def answer(self, host: str, path: str, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        """The response to one GET."""
        with self._lock:
            self.log.append((host, path))
        if path == "/feed.rss":
            return 200, {"Content-Type": "application/rss+xml"}, self._feed()
        if path == "/politik/":
            return (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                article_page("Politik", ["Alle Artikel"]),
            )
        if path == "/robots.txt":
            return 404, {}, b""
        status, headers, body = self.pages.get(path, (404, {}, b""))
        if status != 200:
            return status, headers, body
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if if_none_match == etag:
            return 304, {"ETag": etag}, b""
        return 200, {**headers, "ETag": etag}, body


@contextmanager
def serve_editing_newsroom() -> Iterator[EditingNewsroom]:
    """Serve an editing newsroom on a free loopback port (hosts 127.0.0.1 and localhost)."""
    holder: list[EditingNewsroom] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            status, headers, body = holder[0].answer(host, self.path, self.headers.get("If-None-Match"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(EditingNewsroom(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
