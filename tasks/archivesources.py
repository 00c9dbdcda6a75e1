"""Archive sources: the files a backfill names, expanded into files and opened as byte streams.

A source is a local path or glob, an http(s) URL, or an s3:// object or glob.
"""

from __future__ import annotations

import fnmatch
import glob
import io
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from core.errors import PermanentError, first_line
from tasks.responses import parse_retry_after
from tasks.retry import FETCH_RETRIES, RetryPolicy

READ_CHUNK = 1 << 20  # bytes read from a stream at a time


class ArchiveSourceError(PermanentError):
    """An archive source that names no file, or a file that cannot be opened."""


_GLOB_CHARS = frozenset("*?[")
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=20.0)


def _is_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def expand_sources(sources: Iterable[str]) -> list[str]:
    """Turn the sources a user gave into archive files: globs expanded, each file once, in order.

    Args:
        sources: Local paths or globs, http(s) URLs, ``s3://bucket/key`` URLs (the key may be a glob).

    Returns:
        One source per archive file.

    Raises:
        ArchiveSourceError: A path that does not exist, a glob that matches nothing.
    """
    found: list[str] = []
    for source in sources:
        source = source.strip()
        if source.startswith(("http://", "https://")):
            found.append(source)
        elif source.startswith("s3://"):
            found.extend(_s3_matches(source) if _is_glob(source) else [source])
        elif _is_glob(source):
            matches = sorted(
                p for p in glob.glob(os.path.expanduser(source), recursive=True) if os.path.isfile(p)
            )
            if not matches:
                raise ArchiveSourceError(f"no archive file matches {source}")
            found.extend(str(Path(p).resolve()) for p in matches)
        else:
            path = Path(source).expanduser()
            if path.is_dir():
                raise ArchiveSourceError(f"{source} is a folder: name its files, e.g. {path / '*.warc.gz'}")
            if not path.is_file():
                raise ArchiveSourceError(f"no such archive file: {source}")
            # Absolute: the file is known as loaded whichever folder the next backfill starts in.
            found.append(str(path.resolve()))
    return list(dict.fromkeys(found))


def _s3_parts(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.netloc:
        raise ArchiveSourceError(f"not an s3://bucket/key URL: {url}")
    return parts.netloc, parts.path.lstrip("/")


def _s3_client() -> Any:
    # boto3 reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (and
    # ~/.aws) itself; imported here, since only an s3:// source needs it.
    import boto3

    return boto3.client("s3")


def _s3_matches(url: str) -> list[str]:
    """The objects an ``s3://bucket/prefix*.warc.gz`` glob names, sorted."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, pattern = _s3_parts(url)
    prefix = pattern[: min(pattern.find(c) for c in _GLOB_CHARS if c in pattern)]
    keys: list[str] = []
    try:
        pages = _s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            keys.extend(item["Key"] for item in page.get("Contents", ()))
    except (BotoCoreError, ClientError) as exc:
        raise ArchiveSourceError(f"cannot list {url}: {first_line(exc)}") from exc
    matches = sorted(f"s3://{bucket}/{key}" for key in keys if fnmatch.fnmatchcase(key, pattern))
    if not matches:
        raise ArchiveSourceError(f"no archive file matches {url}")
    return matches


@contextmanager
def open_source(source: str, *, retry: RetryPolicy = FETCH_RETRIES) -> Iterator[IO[bytes]]:
    """Open an archive file for reading front to back: a local file, an http(s) URL or an s3:// object.

    Args:
        source: One of :func:`expand_sources`' results.
        retry: How an http(s) source that answers "not now" (or not at all) is tried again before
            its first byte.

    Yields:
        A binary stream of the file as stored (still compressed).

    Raises:
        ArchiveSourceError: The file cannot be opened (missing, refused, not found on the server).
    """
    if source.startswith(("http://", "https://")):
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True) as client:
            try:
                with _answered(client, source, retry) as response:
                    # Raw bytes: a server that adds its own Content-Encoding must not undo the archive's gzip.
                    yield io.BufferedReader(_IterStream(response.iter_raw(READ_CHUNK)), READ_CHUNK)
            except httpx.HTTPError as exc:
                raise ArchiveSourceError(f"cannot fetch {source}: {first_line(exc)}") from exc
        return
    if source.startswith("s3://"):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = _s3_parts(source)
        try:
            body = _s3_client().get_object(Bucket=bucket, Key=key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveSourceError(f"cannot read {source}: {first_line(exc)}") from exc
        try:
            yield body
        except (BotoCoreError, ClientError) as exc:  # the connection broke off mid-way
            raise ArchiveSourceError(f"reading {source} failed: {first_line(exc)}") from exc
        finally:
            body.close()
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115  (closed below, after the caller's block)
    except OSError as exc:
        raise ArchiveSourceError(f"cannot open {source}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


# The httpx errors of a connection (not of the request) and their FetchError reasons in tasks.retry.
_FAILURES: tuple[tuple[type[httpx.HTTPError] | tuple[type[httpx.HTTPError], ...], str], ...] = (
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connect"),
    ((httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError), "protocol"),
)


def _reason(exc: httpx.HTTPError) -> str | None:
    return next((reason for kinds, reason in _FAILURES if isinstance(exc, kinds)), None)


@contextmanager
def _answered(client: httpx.Client, source: str, retry: RetryPolicy) -> Iterator[httpx.Response]:
    """The archive's 200 response; what the policy calls transient before it is retried, with its waits.

    A Retry-After longer than the policy obeys is not waited for: the backfill names the file as not
    loaded, and the next one takes it.
    """
    for attempt in range(1, retry.max_attempts + 1):
        last = attempt == retry.max_attempts
        started = False
        retry_after: float | None = None
        try:
            with client.stream("GET", source) as response:
                status = response.status_code
                if status == 200:
                    started = True
                    yield response
                    return
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                too_long = retry_after is not None and retry_after > retry.retry_after_cap
                if last or too_long or not retry.transient_status(status):
                    raise ArchiveSourceError(f"cannot fetch {source}: HTTP {status}")
        except httpx.HTTPError as exc:
            # Once the caller reads the body, a broken connection is its error: the stream cannot restart.
            if started or last or not retry.transient(_reason(exc)):
                raise
        time.sleep(retry.delay(attempt, retry_after))


class _IterStream(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
