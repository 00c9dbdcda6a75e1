"""A loopback newsroom of many small generated feeds, for runs with hundreds of task runs or slow pages."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

PARAGRAPH = (
    "Der Gemeinderat von {place} hat am Dienstagabend nach einer langen Sitzung über den Haushalt des "
    "kommenden Jahres beraten. Die Fraktionen stritten vor allem über die Sanierung der Schulen, die "
    "Zukunft des Hallenbads und die Frage, wie viel Geld für Radwege übrig bleibt. Bericht Nummer {n}."
)


class BulkNewsroom:
    """``feeds`` RSS feeds of ``items`` articles each on 127.0.0.1; pages wait ``page_delay`` seconds.

    ``feed_delays`` makes single feeds slow: feed number i answers only after ``feed_delays[i]`` seconds.

    Attributes:
        base: The server's URL.
        opml: URL of the OPML list of every feed.
        pages_served: Article pages answered so far.
    """

    def __init__(
        self, feeds: int, items: int, page_delay: float = 0.0, feed_delays: dict[int, float] | None = None
    ) -> None:
        self.feeds = feeds
        self.items = items
        self.page_delay = page_delay
        self.feed_delays = feed_delays or {}
        self.pages_served = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, kind = outer.route(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client went away (an interrupted run)
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.opml = f"{self.base}/feeds.opml"

    def route(self, path: str) -> tuple[bytes | None, str]:
        """Answer one request path with a body and its content type (None: not found)."""
        if path == "/feeds.opml":
            outlines = "".join(
                f'<outline text="feed {i}" type="rss" xmlUrl="{self.base}/feed/{i}.rss"/>'
                for i in range(self.feeds)
            )
            return (
                f'<?xml version="1.0"?><opml version="2.0"><head><title>bulk</title></head>'
                f"<body>{outlines}</body></opml>".encode(),
                "text/x-opml",
            )
        if match := re.fullmatch(r"/feed/(\d+)\.rss", path):
            feed = int(match.group(1))
            time.sleep(self.feed_delays.get(feed, 0.0))
            items = "".join(
                f"<item><title>Bericht {feed}-{j}</title><link>{self.base}/a/{feed}/{j}.html</link>"
                f"<guid>{self.base}/a/{feed}/{j}.html</guid></item>"
                for j in range(self.items)
            )
            rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>{items}</channel></rss>'
            return rss.encode(), "application/rss+xml"
        if match := re.fullmatch(r"/a/(\d+)/(\d+)\.html", path):
            if self.page_delay:
                time.sleep(self.page_delay)
            self.pages_served += 1
            place = f"Ortschaft {match.group(1)}"
            paras = "".join(
                f"<p>{PARAGRAPH.format(place=place, n=f'{match.group(1)}-{match.group(2)}-{k}')}</p>"
                for k in range(4)
            )
            page = (
                f"<html lang='de'><head><title>Bericht {match.group(1)}-{match.group(2)}</title></head>"
                f"<body><article><h1>Bericht {match.group(1)}-{match.group(2)}</h1>{paras}</article></body></html>"
            )
            return page.encode(), "text/html; charset=utf-8"
        return None, ""

    @contextmanager
    def running(self) -> Iterator[BulkNewsroom]:
        """Serve in a background thread for the length of a ``with`` block."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def servers_of(prefect_home: Path) -> list[psutil.Process]:
    """Temporary Prefect server processes that use this PREFECT_HOME (a test's own, not another's)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "wirehouse.server" in " ".join(process.info["cmdline"] or []) and process.environ().get(
                "PREFECT_HOME"
            ) == str(prefect_home):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found
