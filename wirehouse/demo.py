"""The bundled sample newsroom, served on a loopback port so that `make run` works without internet."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import PermanentError
from core.settings import DEMO_HOST, DEMO_PORT
from wirehouse.sampledates import days_to_today, shift_dates

NEWSROOM = Path(__file__).parent / "sample_newsroom"
# The demo serves the sample under one fixed base whatever its port, so a second `make run` finds
# every article already stored, on any port; the fetcher sends DEMO_HOST to 127.0.0.1 on the port the
# demo serves it on (tasks/http.py), which the lake remembers for the runs after the demo.
DEMO_BASE = f"http://{DEMO_HOST}"
__all__ = ["DEMO_BASE", "DEMO_HOST", "DEMO_PORT", "PortBusyError", "port_owner", "serve_newsroom"]
PLACEHOLDER = b"{{BASE}}"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
}


# The sample newsroom's later edition, served once the lake holds the sample (a second `wirehouse demo`):
# what newsrooms do to their stories after publishing, for the re-checks to find (docs/schema.md).
LATER_EDITS: dict[str, tuple[tuple[str, str], ...]] = {
    # a rewritten headline (everywhere it is written: title, h1, metadata)
    "en/library-petition-eastgate.html": (
        (
            "Thousands sign petition to save Eastgate’s 140-year-old library",
            "Council to review closure of Eastgate’s 140-year-old library after petition",
        ),
    ),
    # a paragraph added at the end
    "de/museum-wiedereroeffnung.html": (
        (
            "Kinder und Jugendliche unter 18 Jahren zahlen nichts.</p>",
            "Kinder und Jugendliche unter 18 Jahren zahlen nichts.</p>\n        <p>Schon vor der Öffnung am "
            "Samstag bildeten sich lange Schlangen vor dem Zollhaus; bis zum Abend zählte das Museum nach "
            "eigenen Angaben mehr als dreitausend Gäste.</p>",
        ),
    ),
    # a correction appended
    "fr/tramway-valmont-sur-loire.html": (
        (
            "le tramway est gratuit pour tous les voyageurs.</p>",
            "le tramway est gratuit pour tous les voyageurs.</p>\n            <p>Rectificatif : une version "
            "précédente de cet article indiquait que la ligne comptait dix-huit stations ; elle en compte "
            "dix-sept.</p>",
        ),
    ),
    # only a timestamp changed: no revision
    "it/affresco-borgo-san-lucio.html": (
        ("Aggiornato il 12 marzo 2025, ore 18:20", "Aggiornato il 12 marzo 2025, ore 19:05"),
    ),
}
# taken down: 410 Gone in the later edition
LATER_GONE = frozenset({"es/festival-guitarra-almaren.html"})


class _NewsroomHandler(BaseHTTPRequestHandler):
    """Serve files below the newsroom folder, with {{BASE}} replaced by the server's own address."""

    def __init__(
        self,
        *args: object,
        root: Path,
        base: bytes,
        log: list[str] | None,
        shift_days: int = 0,
        later: bool = False,
        **kwargs: object,
    ) -> None:
        self._root = root.resolve()
        self._later = later
        self._shift_days = shift_days
        self._base = base
        self._log = log
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        if self._log is not None:
            self._log.append(self.path)
        relative = unquote(urlsplit(self.path).path).lstrip("/")
        target = (self._root / relative).resolve()
        # Never serve outside the newsroom folder ("../" in the request path).
        if not target.is_file() or self._root not in target.parents or target.suffix not in CONTENT_TYPES:
            self.send_error(404, "not in the sample newsroom")
            return
        if self._later and relative in LATER_GONE:
            self.send_error(410, "taken down")
            return
        body = target.read_bytes().replace(PLACEHOLDER, self._base)
        if self._later:
            for old, new in LATER_EDITS.get(relative, ()):
                body = body.replace(old.encode(), new.encode())
        if self._shift_days:
            # The folder is the page's language (de/, it/ ...): "marzo" is Spanish and Italian.
            language = target.parent.name if target.parent != self._root else None
            body = shift_dates(body.decode("utf-8"), self._shift_days, language).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES[target.suffix])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the ingest prints its own summary."""


class PortBusyError(PermanentError):
    """The sample newsroom's port is taken by another process."""


def port_owner(port: int) -> str | None:
    """Name the process listening on a TCP port of this machine, where Linux's /proc tells it cheaply.

    Args:
        port: The port.

    Returns:
        e.g. ``python3 (pid 4242)``, or None when unknown (not Linux, another user's process).
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "0100007F:2231", state 0A = LISTEN, inode in column 10
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return f"{(proc / 'comm').read_text().strip()} (pid {proc.name})"
        except OSError:  # gone, or not ours to look at
            continue
    return None


class _NewsroomServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: wirehouse opens more connections than that at once,
    # and a dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 128


@contextmanager
def serve_newsroom(
    root: Path = NEWSROOM,
    host: str = "127.0.0.1",
    log: list[str] | None = None,
    port: int = DEMO_PORT,
    shift_days: int | None = None,
    public_base: str | None = None,
    later: bool = False,
) -> Iterator[str]:
    """Serve the sample newsroom on a free loopback port for the duration of a ``with`` block.

    Args:
        root: Folder with feeds/, the article pages and sample.opml.
        host: Address to bind (loopback only).
        log: If given, every requested path is appended to it (tests count fetches with it).
        port: Port to bind (0: any free port).
        shift_days: Days to move every date the pages and feeds state (default: so that the sample's
            newest day is today; 0 serves the files as written).
        public_base: The base the pages and feeds link to (the demo's :data:`DEMO_BASE`, which names
            no port); default: the server's own address.
        later: Serve the later edition (:data:`LATER_EDITS`, :data:`LATER_GONE`).

    Yields:
        The base URL the sample links to, e.g. ``http://127.0.0.1:54321`` or :data:`DEMO_BASE`.

    Raises:
        PortBusyError: The port is taken.
    """
    try:
        server = _NewsroomServer((host, port), BaseHTTPRequestHandler)
    except OSError as exc:
        owner = port_owner(port)
        raise PortBusyError(
            f"port {port} on {host} is in use{f' by {owner}' if owner else ''} ({exc.strerror}); "
            f"stop that process or choose another port: `make run DEMO_PORT=8766` or "
            f"`wirehouse demo --port 8766` (the sample's URLs name no port: nothing is stored twice)"
        ) from exc
    base = public_base or f"http://{host}:{server.server_address[1]}"
    shift = days_to_today() if shift_days is None else shift_days
    server.RequestHandlerClass = partial(
        _NewsroomHandler, root=root, base=base.encode(), log=log, shift_days=shift, later=later
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="newsroom", daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
