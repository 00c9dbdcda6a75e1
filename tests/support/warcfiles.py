"""Archive fixtures: WARC files written with warcio's writer, ARC files written by hand."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass(frozen=True)
class Capture:
    """One response as an archive holds it."""

    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"
    date: str = "2024-10-28T09:00:00Z"


def page(title: str, paragraphs: list[str], lang: str = "en", published: str | None = None) -> bytes:
    """A small news page of our own."""
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html lang="{lang}"><head><title>{title}</title>{meta}</head>'
        f"<body><nav>Home | World | Sport</nav><article><h1>{title}</h1>{body}</article>"
        f"<footer>Contact us</footer></body></html>"
    ).encode()


def warc_member(capture: Capture, *, compress: bool = True, with_request: bool = False) -> bytes:
    """The bytes of one response record (a gzip member when ``compress``), plus its request if asked."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    if with_request:
        request = StatusAndHeaders(
            "GET / HTTP/1.1", [("Host", "example.org")], protocol="HTTP/1.1", is_http_request=True
        )
        writer.write_record(
            writer.create_warc_record(capture.url, "request", payload=io.BytesIO(b""), http_headers=request)
        )
    headers = StatusAndHeaders(capture.status, [("Content-Type", capture.content_type)], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        capture.url,
        "response",
        payload=io.BytesIO(capture.body),
        http_headers=headers,
        warc_headers_dict={"WARC-Date": capture.date},
    )
    writer.write_record(record)
    return buffer.getvalue()


def write_warc(path: Path, captures: list[Capture], *, compress: bool = True) -> Path:
    """Write a WARC file of the captures (one gzip member per record, as crawlers write them)."""
    path.write_bytes(b"".join(warc_member(c, compress=compress) for c in captures))
    return path


def arc_record(capture: Capture, ip: str = "192.0.2.1") -> bytes:
    """One ARC (version 1) record: a URL line, then the HTTP response as captured."""
    stamp = capture.date.replace("-", "").replace(":", "").replace("T", "").rstrip("Z")[:14]
    code, _, reason = capture.status.partition(" ")
    http = (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: {capture.content_type}\r\n"
        f"Content-Length: {len(capture.body)}\r\n\r\n"
    ).encode() + capture.body
    kind = capture.content_type.split(";")[0]
    return f"{capture.url} {ip} {stamp} {kind} {len(http)}\n".encode() + http + b"\n"


def write_arc(path: Path, captures: list[Capture]) -> Path:
    """Write a gzipped ARC file: its filedesc header, then one gzip member per record."""
    fields = "URL IP-address Archive-date Content-type Archive-length"
    meta = f"1 0 wirehouse-tests\n{fields}\n".encode()
    header = f"filedesc://{path.name} 0.0.0.0 20241028090000 text/plain {len(meta)}\n".encode() + meta + b"\n"
    path.write_bytes(b"".join(gzip.compress(part) for part in [header, *map(arc_record, captures)]))
    return path
