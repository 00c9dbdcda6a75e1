"""HTTP: the one place where wirehouse talks to the network (timeouts, size caps, SSRF guard, politeness)."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from tasks.settings import Settings

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Statuses worth another try later: the server said "not now", not "never".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class FetchError(Exception):
    """A fetch that produced no usable response; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (timeouts, refused connections, 5xx)."""
        return self.reason in {"timeout", "connect", "protocol"} or (self.status in TRANSIENT_STATUSES)


class BlockedAddressError(FetchError):
    """The URL's host resolves to an address the SSRF guard refuses."""


@dataclass(frozen=True)
class Response:
    """A complete HTTP response, body already read and decompressed."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    redirects: tuple[str, ...] = ()
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ('' when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if any."""
        return charset_from_content_type(self.headers.get("content-type", ""))


class Fetcher(Protocol):
    """What the pipeline needs from HTTP; the real client below is the only implementation."""

    def get(self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None) -> Response:
        """Fetch one URL."""
        ...


def charset_from_content_type(value: str) -> str | None:
    """Return the charset parameter of a Content-Type header value.

    Args:
        value: e.g. ``text/html; charset=ISO-8859-1``.

    Returns:
        The lower-cased charset, or None.
    """
    if not value:
        return None
    message = Message()
    message["content-type"] = value
    charset = message.get_param("charset")
    return str(charset).strip().lower() if isinstance(charset, str) and charset.strip() else None


def is_public_address(address: str) -> bool:
    """Tell whether an IP address is a public unicast address (not private, loopback, link-local...).

    Args:
        address: An IPv4 or IPv6 address as text.

    Returns:
        True only for globally routable unicast addresses.
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url_scheme(url: str) -> None:
    """Refuse any scheme but http(s), and URLs without a host.

    Args:
        url: The URL about to be fetched.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        raise FetchError(
            "bad_scheme", f"only http(s) URLs are fetched, not {parts.scheme or 'none'!r}", url=url
        )
    if not parts.hostname:
        raise FetchError("bad_url", "URL has no host", url=url)


def is_allowed_host(host: str, allow_list: Iterable[str]) -> bool:
    """Tell whether a host name/literal is on the private-address allow-list."""
    return host.strip("[]").lower() in {h.strip("[]").lower() for h in allow_list}


class _GuardedBackend(httpcore.SyncBackend):
    """Network backend that resolves the host itself and connects only to addresses the guard allows.

    Checking at connect time (not before the request) covers redirects and DNS answers that change
    between the check and the connection.
    """

    def __init__(self, allow_private_hosts: frozenset[str]) -> None:
        self._allow = allow_private_hosts

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not is_allowed_host(host, self._allow):
            blocked = [a for a in addresses if not is_public_address(a)]
            if blocked:
                raise BlockedAddressError(
                    "blocked_address",
                    f"{host} resolves to non-public address {blocked[0]} "
                    "(allow it with WIREHOUSE_ALLOW_PRIVATE_HOSTS)",
                    url=host,
                )
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with the connection pool swapped for one using the guarded backend."""

    def __init__(self, allow_private_hosts: frozenset[str], max_connections: int) -> None:
        super().__init__(trust_env=False)
        # httpx exposes no network_backend option; rebuilding its pool is the supported httpcore way.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private_hosts),
        )


@dataclass
class _HostGate:
    """Per-host politeness: at most N requests in flight and a minimum gap between request starts."""

    concurrency: int
    delay: float
    _slots: threading.Semaphore = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_start: float = 0.0

    def __post_init__(self) -> None:
        self._slots = threading.Semaphore(max(1, self.concurrency))

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                now = time.monotonic()
                wait = self._next_start - now
                self._next_start = max(now, self._next_start) + self.delay
            if wait > 0:
                time.sleep(wait)
            yield


class HttpClient:
    """The shared HTTP client: one connection pool, one User-Agent, the SSRF guard and size caps."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        max_connections = max(4, settings.fetch_workers * 2)
        self._client = httpx.Client(
            transport=_GuardedTransport(settings.allow_private_hosts, max_connections),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.total_timeout,
            ),
            follow_redirects=False,  # followed by hand so every hop is checked and counted
            trust_env=False,
        )
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _gate(self, url: str) -> _HostGate:
        host = (urlsplit(url).hostname or "").lower()
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = _HostGate(self._settings.host_concurrency, self._settings.host_delay)
                self._gates[host] = gate
            return gate

    def get(self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None) -> Response:
        """Fetch a URL, following at most ``max_redirects`` redirects, each hop checked by the guard.

        Args:
            url: An http(s) URL.
            max_bytes: Largest body accepted, counted after decompression.
            headers: Extra request headers (e.g. conditional GET validators).

        Returns:
            The final response (any status; 4xx/5xx are responses, not exceptions).

        Raises:
            FetchError: No usable response (blocked, timeout, too large, too many redirects...).
        """
        started = time.monotonic()
        deadline = started + self._settings.total_timeout
        redirects: list[str] = []
        current = url
        while True:
            check_url_scheme(current)
            status, response_headers, body = self._get_once(current, max_bytes, headers, deadline)
            location = response_headers.get("location")
            if status in REDIRECT_STATUSES and location:
                if len(redirects) >= self._settings.max_redirects:
                    raise FetchError(
                        "too_many_redirects",
                        f"more than {self._settings.max_redirects} redirects",
                        url=url,
                        status=status,
                    )
                redirects.append(current)
                current = urljoin(current, location.strip())
                continue
            return Response(
                url=url,
                final_url=current,
                status=status,
                headers=response_headers,
                body=body,
                redirects=tuple(redirects),
                elapsed=time.monotonic() - started,
            )

    def _get_once(
        self, url: str, max_bytes: int, headers: Mapping[str, str] | None, deadline: float
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            with self._gate(url).turn(), self._client.stream("GET", url, headers=dict(headers or {})) as resp:
                response_headers = {k.lower(): v for k, v in resp.headers.items()}
                declared = response_headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(
                        "too_large", f"declared body of {declared} bytes exceeds {max_bytes}", url=url
                    )
                chunks: list[bytes] = []
                size = 0
                # iter_bytes yields decompressed data, so the cap also stops gzip/deflate bombs.
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError("too_large", f"body exceeds {max_bytes} bytes", url=url)
                    if time.monotonic() > deadline:
                        raise FetchError(
                            "timeout",
                            f"no complete response within {self._settings.total_timeout:g} s",
                            url=url,
                        )
                    chunks.append(chunk)
                return resp.status_code, response_headers, b"".join(chunks)
        except FetchError as exc:
            exc.url = url  # the guard only knows the host it refused
            raise
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"timed out ({type(exc).__name__})", url=url) from exc
        except httpx.DecodingError as exc:
            raise FetchError("decoding", f"cannot decode the response body: {exc}", url=url) from exc
        except httpx.ConnectError as exc:
            raise FetchError("connect", f"cannot connect: {exc}", url=url) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise FetchError("protocol", f"connection failed mid-response: {exc}", url=url) from exc
        except httpx.InvalidURL as exc:
            raise FetchError("bad_url", f"invalid URL: {exc}", url=url) from exc
        except httpx.HTTPError as exc:
            raise FetchError("http", f"{type(exc).__name__}: {exc}", url=url) from exc


def fetch_many(
    client: Fetcher, urls: list[str], *, max_bytes: int, workers: int
) -> list[Response | FetchError]:
    """Fetch URLs concurrently with a thread pool; each result is a Response or the FetchError it raised.

    Args:
        client: The shared client (politeness per host is enforced inside it).
        urls: URLs to fetch, in the order results are wanted.
        max_bytes: Body cap per response.
        workers: Threads used for the whole batch.

    Returns:
        One entry per URL, in input order.
    """

    def one(url: str) -> Response | FetchError:
        try:
            return client.get(url, max_bytes=max_bytes)
        except FetchError as exc:
            return exc

    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(urls))), thread_name_prefix="fetch") as pool:
        return list(pool.map(one, urls))
