"""Archives: the response records of WARC and ARC files as pages, and what was wrong with the rest.

Reading never raises for a bad record: a non-HTML response, a record cut short, a gzip member that does
not decompress are yielded as :class:`ArchiveProblem` and reading goes on with the next record. A
compressed archive is split into its gzip members here (one record per member, as WARC writers and
Common Crawl do), so a broken member costs that member only; each member's records are parsed by
warcio, which reads ARC files too (``python -m bench.warc`` compares it with fastwarc).

Opening the sources is tasks.archivesources, the host and date filters tasks.archivefilters (their
names importable from here as before).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from core.dates import parse_iso_datetime
from core.errors import first_line
from tasks.archivefilters import host_matches as host_matches
from tasks.archivefilters import host_of as host_of
from tasks.archivefilters import in_period as in_period
from tasks.archivefilters import split_list as split_list
from tasks.archivesources import HTTP_TIMEOUT as HTTP_TIMEOUT
from tasks.archivesources import READ_CHUNK as READ_CHUNK
from tasks.archivesources import ArchiveSourceError as ArchiveSourceError
from tasks.archivesources import expand_sources as expand_sources
from tasks.archivesources import open_source as open_source

GZIP_MAGIC = b"\x1f\x8b\x08"
FEED_BYTES = 64 << 10  # compressed bytes given to zlib at a time
# A record bigger than this once decompressed is no news page (Common Crawl cuts payloads at 1 MiB);
# the cap also keeps a gzip bomb from filling memory.
MAX_RECORD_BYTES = 64 << 20
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Problem kinds, as they appear in the failures view's error_class.
NOT_HTML = "not_html"
TRUNCATED = "truncated"
BROKEN_GZIP = "broken_gzip"
HTTP_ERROR = "http_error"
UNREADABLE = "unreadable"
TOO_LARGE = "too_large"


@dataclass(frozen=True)
class ArchiveRecord:
    """One HTML response of an archive, as it was captured."""

    url: str  # WARC-Target-URI
    http_status: int
    content_type: str | None
    charset: str | None
    body: bytes  # the payload, transfer and content encodings removed
    warc_date: datetime | None  # when it was captured
    record_id: str | None  # WARC-Record-ID
    offset: int  # byte offset of the record (its gzip member) in the file


@dataclass(frozen=True)
class ArchiveProblem:
    """A record (or a stretch of the file) that gives no page, and why."""

    kind: str  # one of the problem kinds above
    offset: int
    message: str
    url: str | None = None
    record_id: str | None = None
    http_status: int | None = None


ArchiveItem = ArchiveRecord | ArchiveProblem


def read_archive(stream: IO[bytes]) -> Iterator[ArchiveItem]:
    """Yield the HTML responses of a WARC or ARC file, gzipped per record or plain, and its problems.

    Args:
        stream: The file, read front to back once (a network stream will do).

    Yields:
        An :class:`ArchiveRecord` per HTML response, an :class:`ArchiveProblem` per record or stretch
        that gives none; records that are no responses (requests, metadata, warcinfo) yield nothing.
    """
    head = b""
    while len(head) < len(GZIP_MAGIC):
        more = stream.read(len(GZIP_MAGIC) - len(head))
        if not more:
            break
        head += more
    if head.startswith(GZIP_MAGIC[:2]):
        for offset, data, problem in gzip_members(head, stream):
            if problem is not None:
                yield problem
            if data is not None:
                arc = not data.startswith(b"WARC/")
                yield from _records(io.BytesIO(data), base=offset, fixed_offset=True, arc=arc)
    else:
        plain = io.BufferedReader(_Prefixed(head, stream))
        yield from _records(plain, base=0, fixed_offset=False, arc=not head.startswith(b"WAR"))


def gzip_members(head: bytes, stream: IO[bytes]) -> Iterator[tuple[int, bytes | None, ArchiveProblem | None]]:
    """Split a stream of concatenated gzip members, skipping over broken ones.

    A member that fails to decompress is skipped by looking for the next gzip header after its start;
    a run of such failures is one problem (a stray header inside compressed bytes is no new one).

    Args:
        head: Bytes already read from the stream's start.
        stream: The rest of the stream.

    Yields:
        ``(offset, data, problem)``: a member's offset and decompressed bytes (None where it gave
        none), and the problem found before or in it (None if none).
    """
    window = _Window(head, stream)
    broken_at: int | None = None  # start of an undecompressable stretch not yet reported
    while window.fill(len(GZIP_MAGIC)):
        start = window.offset
        if window.startswith(GZIP_MAGIC):
            member = _inflate_member(window)
            if member is not None:
                if broken_at is not None:
                    yield broken_at, None, _broken(broken_at, start)
                    broken_at = None
                data, problem = member
                yield start, data, problem
                continue
        # Not a member, or a broken one: look for the next header after this byte.
        broken_at = start if broken_at is None else broken_at
        window.skip_to(GZIP_MAGIC)
    if broken_at is not None:
        yield broken_at, None, _broken(broken_at, None)


def _broken(start: int, end: int | None) -> ArchiveProblem:
    span = f"bytes {start}-{end - 1}" if end is not None else f"bytes {start} to the end"
    return ArchiveProblem(BROKEN_GZIP, start, f"broken gzip data, {span} skipped")


class _Window:
    """The unread part of a stream, kept so that a failed member can be searched for the next one."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.data = bytearray(head)
        self.index = 0  # first unread byte in data
        self.offset = 0  # its offset in the file
        self.stream = stream
        self.exhausted = False

    def available(self) -> int:
        return len(self.data) - self.index

    def read_more(self) -> bool:
        """Append a chunk of the stream; False at its end."""
        if self.exhausted:
            return False
        if self.index > READ_CHUNK:  # drop what was consumed, now and then (not per member)
            del self.data[: self.index]
            self.index = 0
        chunk = self.stream.read(READ_CHUNK)
        if not chunk:
            self.exhausted = True
            return False
        self.data += chunk
        return True

    def fill(self, count: int) -> bool:
        """Read until ``count`` bytes are available or the stream ends; True if any are left."""
        while self.available() < count and self.read_more():
            pass
        return self.available() > 0

    def startswith(self, prefix: bytes) -> bool:
        return self.data.startswith(prefix, self.index)

    def advance(self, count: int) -> None:
        self.index += count
        self.offset += count

    def skip_to(self, marker: bytes) -> None:
        """Drop bytes up to the next ``marker`` after the first unread byte (or all of them)."""
        searched = self.index + 1
        while True:
            found = self.data.find(marker, searched)
            if found >= 0:
                self.advance(found - self.index)
                return
            searched = max(self.index + 1, len(self.data) - len(marker) + 1)
            before = self.index
            if not self.read_more():
                self.advance(len(self.data) - self.index)
                return
            searched -= before - self.index  # read_more may have moved the data


def _inflate_member(window: _Window) -> tuple[bytes | None, ArchiveProblem | None] | None:
    """Decompress the gzip member at the window's start and step past it; None if it is broken."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    start = window.offset
    out: list[bytes] = []
    size = 0
    fed = window.index  # next byte of data to feed
    while not inflater.eof:
        if fed >= len(window.data):
            before = window.index
            if not window.read_more():
                window.advance(len(window.data) - window.index)
                # What was inflated is the start of a record: nothing to take from it.
                return None, ArchiveProblem(TRUNCATED, start, "the file ends inside this gzip member")
            fed -= before - window.index  # read_more may have moved the data
            continue
        # Fed in small pieces: zlib copies what follows the member's end (unused_data) on every call.
        end = min(fed + FEED_BYTES, len(window.data))
        pending = bytes(window.data[fed:end])
        try:
            while pending and not inflater.eof:
                # max_length: however well it compresses, one step inflates a bounded amount.
                piece = inflater.decompress(pending, READ_CHUNK)
                pending = inflater.unconsumed_tail
                size += len(piece)
                if size <= MAX_RECORD_BYTES:
                    out.append(piece)
                else:
                    out = []
        except zlib.error:
            return None
        fed = end
    window.advance(fed - len(inflater.unused_data) - window.index)
    if size > MAX_RECORD_BYTES:
        return None, ArchiveProblem(TOO_LARGE, start, f"record larger than {MAX_RECORD_BYTES} bytes")
    return b"".join(out), None


class _Prefixed(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


class _QuietIterator(ArchiveIterator):  # type: ignore[misc]
    """warcio's iterator without its warnings on stderr: what is wrong becomes a problem, not output."""

    INC_RECORD = ""


def _records(stream: IO[bytes], *, base: int, fixed_offset: bool, arc: bool) -> Iterator[ArchiveItem]:
    """Parse the records of an uncompressed stream (one gzip member's, or a plain file)."""
    iterator = _QuietIterator(stream, arc2warc=True, check_digests=False)
    try:
        for record in iterator:
            # The stream's position when the record is handed out is where it starts (warcio's
            # get_record_offset() would read the record to its end first, leaving no payload to read).
            offset = base if fixed_offset else base + int(iterator.offset)
            if record.rec_type != "response":
                continue
            yield _item(record, offset, arc)
    except (ArchiveLoadFailed, ValueError, OSError, zlib.error, EOFError) as exc:
        offset = base if fixed_offset else base + int(iterator.offset)
        yield ArchiveProblem(UNREADABLE, offset, f"not a WARC or ARC record: {first_line(exc)}")


def _item(record: Any, offset: int, arc: bool) -> ArchiveItem:
    """One response record as a page, or the problem that keeps it from being one."""
    headers = record.rec_headers
    url = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>") or None
    # An ARC record has no id of its own (warcio invents a new one on every read): its offset says where it is.
    record_id = None if arc else headers.get_header("WARC-Record-ID")
    if record.http_headers is None:
        return ArchiveProblem(UNREADABLE, offset, "response without HTTP headers", url, record_id)
    status = _status(record.http_headers.get_statuscode())
    media_type, charset = parse_content_type(record.http_headers.get_header("Content-Type"))
    try:
        body = record.content_stream().read()
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        return ArchiveProblem(UNREADABLE, offset, f"unreadable payload: {first_line(exc)}", url, record_id)
    missing = int(getattr(record.raw_stream, "limit", 0) or 0)
    if missing > 0:
        return ArchiveProblem(
            TRUNCATED, offset, f"record ends {missing} bytes short of its length", url, record_id, status
        )
    if headers.get_header("WARC-Truncated"):
        reason = headers.get_header("WARC-Truncated")
        return ArchiveProblem(
            TRUNCATED, offset, f"payload cut when captured ({reason})", url, record_id, status
        )
    if url is None:
        return ArchiveProblem(UNREADABLE, offset, "response without a target URL", None, record_id, status)
    if status is None or not 200 <= status < 300:
        return ArchiveProblem(HTTP_ERROR, offset, f"HTTP status {status}", url, record_id, status)
    if not is_html(media_type, body):
        shown = media_type or "no content type"
        return ArchiveProblem(NOT_HTML, offset, f"not HTML: {shown}", url, record_id, status)
    return ArchiveRecord(
        url=url,
        http_status=status,
        content_type=media_type or "text/html",
        charset=charset,
        body=body,
        warc_date=parse_warc_date(headers.get_header("WARC-Date")),
        record_id=record_id,
        offset=offset,
    )


def _status(code: Any) -> int | None:
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """Split a Content-Type header into its media type and charset.

    Args:
        value: e.g. ``text/html; charset=UTF-8``.

    Returns:
        The lower-cased media type and charset (None where absent).
    """
    if not value:
        return None, None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, setting = param.partition("=")
        if name.strip().lower() == "charset" and setting.strip():
            charset = setting.strip().strip("\"'").lower()
    return media.strip().lower() or None, charset


def is_html(media_type: str | None, body: bytes) -> bool:
    """Tell whether a response is an HTML page: by its media type, else by its first bytes.

    Args:
        media_type: The Content-Type's media type (None where the server sent none).
        body: The payload.

    Returns:
        True for HTML.
    """
    if media_type is not None:
        return media_type in HTML_TYPES
    start = body[:1024].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html")) or b"<html" in start


# A WARC-Date is ISO 8601 in UTC (warcio converts ARC's 14-digit dates to it).
parse_warc_date = parse_iso_datetime
