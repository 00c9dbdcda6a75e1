"""A hostile HTTP server on loopback: every way a feed or page server can misbehave, one path each."""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar

GOOD_RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>
{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><guid>{link}</guid></item>"
LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
<!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>
<rss version="2.0"><channel><title>&i;</title><item><title>&i;</title><link>http://x.example/a</link></item></channel></rss>"""
LOREM = (
    "Der Stadtrat hat am Dienstagabend nach langer Debatte den neuen Haushalt beschlossen. "
    "Die Opposition kritisierte die geplanten Ausgaben für den Straßenbau und forderte mehr Geld für Schulen. "
)
PAGE = "<html lang='de'><head><title>{title}</title></head><body><article><h1>{title}</h1>{paras}</article></body></html>"


def _response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class FaultServer:
    """Serves good feeds and pages plus one fault per path; ``base`` is its URL."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[socket.socket], None]] = {}
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._stop = threading.Event()
        self._build()

    def _handler_class(self) -> type[socketserver.BaseRequestHandler]:
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(10)
                try:
                    request = conn.recv(65536).decode("latin-1")
                    path = request.split(" ")[1] if " " in request else "/"
                    route = outer.routes.get(path.split("?")[0])
                    if route is None:
                        conn.sendall(_response(404, b"not here"))
                    else:
                        route(conn)
                except OSError:
                    pass

        return Handler

    def _send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Callable[[socket.socket], None]:
        return lambda conn: conn.sendall(_response(status, body, headers))

    def rss(self, title: str, links: list[str]) -> bytes:
        return GOOD_RSS.format(
            title=title,
            items="".join(ITEM.format(title=f"{title} {i}", link=link) for i, link in enumerate(links)),
        ).encode()

    def _build(self) -> None:
        b = self.base
        r = self.routes
        html = {"Content-Type": "text/html; charset=utf-8"}
        xml = {"Content-Type": "application/rss+xml; charset=utf-8"}
        # good feeds and pages (the run must ingest these completely)
        for n in range(3):
            r[f"/good/{n}.html"] = self._send(
                200, PAGE.format(title=f"Haushalt {n}", paras=f"<p>{LOREM * 3}</p>" * 3).encode(), html
            )
        r["/good.rss"] = self._send(200, self.rss("good", [f"{b}/good/{n}.html" for n in range(3)]), xml)
        # page-level faults behind an otherwise good feed
        r["/page/pdf"] = self._send(200, b"%PDF-1.4 " + b"x" * 100, {"Content-Type": "application/pdf"})
        r["/page/500"] = self._send(500, b"oops", html)
        r["/page/silent"] = lambda conn: self._stop.wait(30)
        r["/page/bomb"] = self._send(
            200, gzip.compress(b" " * 50_000_000), {**html, "Content-Encoding": "gzip"}
        )
        page_faults = ["/page/pdf", "/page/500", "/page/silent", "/page/bomb", "/page/missing"]
        r["/pagefaults.rss"] = self._send(200, self.rss("pages", [b + p for p in page_faults]), xml)
        # feed-level faults: path -> expected error_reason (None: must parse despite the fault)
        r["/404.rss"] = self._send(404)
        r["/410.rss"] = self._send(410)
        r["/429.rss"] = self._send(429, b"slow down", {"Retry-After": "120"})
        r["/500.rss"] = self._send(500)
        r["/503.rss"] = self._send(503, b"", {"Retry-After": "60"})
        r["/reset.rss"] = self._reset_mid_body
        r["/silent.rss"] = lambda conn: self._stop.wait(30)
        r["/drip.rss"] = self._drip
        r["/drip-headers.rss"] = self._drip_headers
        r["/loop.rss"] = self._send(302, b"", {"Location": "/loop.rss"})
        for n in range(10):
            r[f"/hop{n}.rss"] = self._send(302, b"", {"Location": f"/hop{n + 1}.rss"})
        r["/hop10.rss"] = self._send(200, self.rss("far", []), xml)
        # 127.0.0.2 is loopback too, but not on the allow-list (which names 127.0.0.1 only)
        r["/to-private.rss"] = self._send(
            302, b"", {"Location": b.replace("127.0.0.1", "127.0.0.2") + "/good.rss"}
        )
        r["/to-ftp.rss"] = self._send(302, b"", {"Location": "ftp://127.0.0.1/feed"})
        r["/huge.rss"] = self._huge
        r["/bomb.rss"] = self._send(
            200, gzip.compress(b"<rss>" + b" " * 60_000_000), {**xml, "Content-Encoding": "gzip"}
        )
        latin = self.rss("Grüße aus Köln", [f"{b}/good/0.html"]).decode().encode("latin-1")
        r["/charset.rss"] = self._send(200, latin, xml)  # says utf-8 (header and declaration), is latin-1
        r["/binary.rss"] = self._send(200, bytes(range(256)) * 40, html)
        r["/empty.rss"] = self._send(200, b"", xml)
        r["/html.rss"] = self._send(
            200, PAGE.format(title="Login", paras="<form><input type=password></form>").encode(), html
        )
        r["/laughs.rss"] = self._send(200, LAUGHS, xml)
        r["/many.rss"] = self._send(200, self.rss("many", [f"{b}/none/{n}" for n in range(100_000)]), xml)

    FEED_FAULTS: ClassVar[dict[str, str]] = {
        "/404.rss": "http_404",
        "/410.rss": "http_410",
        "/429.rss": "http_429",
        "/500.rss": "http_status",
        "/503.rss": "http_503",
        "/reset.rss": "protocol",
        "/silent.rss": "timeout",
        "/drip.rss": "timeout",
        "/drip-headers.rss": "timeout",
        "/loop.rss": "too_many_redirects",
        "/hop0.rss": "too_many_redirects",
        "/to-private.rss": "blocked_address",
        "/to-ftp.rss": "bad_scheme",
        "/huge.rss": "too_large",
        "/bomb.rss": "too_large",
        "/binary.rss": "not_a_feed",
        "/empty.rss": "empty",
        "/html.rss": "not_a_feed",
    }
    # Faults a feed survives: the document still yields what it can (or nothing, harmlessly).
    FEED_SURVIVABLE = ("/charset.rss", "/laughs.rss", "/many.rss")

    def _reset_mid_body(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n<rss><channel>"
        )
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # RST with data still owed

    def _drip(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(60):
            if self._stop.is_set():
                return
            conn.sendall(b" ")
            time.sleep(0.5)

    def _drip_headers(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(60):
            if self._stop.is_set():
                return
            conn.sendall(b"X")  # a header line that never ends, one byte at a time
            time.sleep(0.5)

    def _huge(self, conn: socket.socket) -> None:
        # 50 MB without a Content-Length: the cap must stop it while streaming.
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n<rss>"
        )
        chunk = b" " * 65536
        for _ in range(800):
            if self._stop.is_set():
                return
            conn.sendall(chunk)

    @contextmanager
    def running(self) -> Iterator[FaultServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._server.shutdown()
            self._server.server_close()
