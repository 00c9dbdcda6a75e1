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
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from core.errors import WirehouseError
from core.settings import DEMO_HOST, DEMO_PORT, Settings

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Statuses worth another try later: the server said "not now", not "never".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class FetchError(WirehouseError):
    """A fetch that produced no usable response; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (timeouts, refused connections, 5xx)."""
        return self.reason in {"timeout", "connect", "protocol", "robots_unavailable"} or (
            self.status in TRANSIENT_STATUSES
        )


# The reason of a fetch from a host wirehouse serves itself (the sample newsroom) when nothing serves it:
# the demo server stopped. Like a blocked address, the setup's doing, not the feed's (tasks/health.py).
NOT_SERVED = "not_served"


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
    permanent_url: str | None = None  # where leading 301/308 redirects lead (the resource moved)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ('' when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if any."""
        return charset_from_content_type(self.headers.get("content-type", ""))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Read a Retry-After header: delta-seconds or an HTTP date.

    Args:
        value: The header value.
        now: The current time (for HTTP dates).

    Returns:
        Seconds to wait (>= 0), or None when absent or unreadable.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_robots(text: str) -> RobotFileParser:
    """Parse a robots.txt body.

    Args:
        text: The file as text.

    Returns:
        The rules.
    """
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


# RFC 9309: while robots.txt cannot be read (5xx, timeout), assume everything is disallowed.
_UNAVAILABLE = parse_robots("User-agent: *\nDisallow: /")


class Fetcher(Protocol):
    """What the pipeline needs from HTTP; the real client below is the only implementation."""

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        check_robots: bool = False,
    ) -> Response:
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


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


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
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: judge the IPv4 address they lead to.
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(v4 is not None and not is_public_address(str(v4)) for v4 in embedded):
            return False
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
    """Tell whether a host name/literal is on the private-address allow-list.

    Args:
        host: The host as written in the URL (IPv6 literals with or without brackets).
        allow_list: Allowed names/literals.

    Returns:
        True when the host may resolve to private addresses.
    """
    return host.strip("[]").lower() in {h.strip("[]").lower() for h in allow_list}


# The deadline of the request this thread is making: every socket read and write is cut short at it,
# so a server that drips its headers one byte at a time cannot stall a fetch past the total timeout.
_DEADLINE = threading.local()


def _remaining(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_DEADLINE, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total timeout reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes never outlive the current request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Network backend that resolves the host itself and connects only to addresses the guard allows.

    Checking at connect time (not before the request) covers redirects and DNS answers that change
    between the check and the connection.
    """

    def __init__(self, allow_private_hosts: frozenset[str], local_hosts: Mapping[str, int]) -> None:
        self._allow = allow_private_hosts
        self._local = {name.lower(): port for name, port in local_hosts.items()}

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        local_port = self._local.get(host.lower())
        if local_port is not None:
            return self._connect_local(host, local_port, timeout, local_address, socket_options)
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
                stream = super().connect_tcp(
                    address, port, _remaining(timeout), local_address, socket_options
                )
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def _connect_local(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> httpcore.NetworkStream:
        """Connect a host that wirehouse serves itself (the sample newsroom) to its loopback port.

        Such a name never goes to DNS, and its only address is 127.0.0.1, so the guard has nothing
        to check; a server that is not running is said as such (see :data:`NOT_SERVED`).
        """
        try:
            stream = super().connect_tcp(
                "127.0.0.1", port, _remaining(timeout), local_address, socket_options
            )
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            raise FetchError(
                NOT_SERVED,
                f"nothing serves {host} on 127.0.0.1:{port}: the sample newsroom is not running "
                f"(`wirehouse demo` serves it while it ingests; `wirehouse demo --serve --port {port}` until Ctrl-C)",
                url=host,
            ) from exc
        return _DeadlineStream(stream)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with the connection pool swapped for one using the guarded backend."""

    def __init__(
        self, allow_private_hosts: frozenset[str], max_connections: int, local_hosts: Mapping[str, int]
    ) -> None:
        super().__init__(trust_env=False)
        # httpx exposes no network_backend option; rebuilding its pool is the supported httpcore way.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private_hosts, local_hosts),
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

    def slow_down(self, delay: float) -> None:
        """Raise the gap between requests (a robots.txt Crawl-delay), never lower it."""
        with self._lock:
            self.delay = max(self.delay, delay)

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

    def __init__(self, settings: Settings, demo_port: int | None = None) -> None:
        """Open the client.

        Args:
            settings: The run's settings.
            demo_port: The loopback port of the sample newsroom's host
                (:data:`~core.settings.DEMO_HOST`; default: the ``demo_port`` setting, else
                :data:`~core.settings.DEMO_PORT`).
        """
        self._settings = settings
        max_connections = max(4, settings.fetch_workers * 2)
        local_hosts = {DEMO_HOST: demo_port or settings.demo_port or DEMO_PORT}
        self._client = httpx.Client(
            transport=_GuardedTransport(settings.allow_private_hosts, max_connections, local_hosts),
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
        # robots.txt per origin, fetched once per client (one client per run); each origin has its own
        # lock so that concurrent page fetches wait for one robots.txt download instead of racing.
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}

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

    def _robots_for(self, url: str) -> RobotFileParser | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        with self._gates_lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin in self._robots:
                return self._robots[origin]
            rules: RobotFileParser | None
            try:
                response = self.get(f"{origin}/robots.txt", max_bytes=512 * 1024)
            except FetchError as exc:
                # RFC 9309: an unreachable robots.txt means "assume everything is disallowed" for now.
                logger.info("robots.txt of %s unreachable (%s): not fetching its pages this run", origin, exc)
                rules = _UNAVAILABLE
            else:
                if response.status >= 500:
                    rules = _UNAVAILABLE
                elif response.status >= 400:
                    rules = None  # no robots.txt: everything allowed
                else:
                    rules = parse_robots(response.body.decode("utf-8", errors="replace"))
                    delay = rules.crawl_delay(self._settings.user_agent) or rules.crawl_delay("*")
                    if delay:
                        # Honour Crawl-delay, but a hostile value must not stall a run for hours.
                        self._gate(url).slow_down(min(float(delay), 60.0))
            self._robots[origin] = rules
            return rules

    def allowed_by_robots(self, url: str) -> bool:
        """Tell whether robots.txt of the URL's host lets wirehouse fetch it (cached per run).

        Args:
            url: A page URL.

        Returns:
            False where robots.txt disallows the page for our User-Agent (or "*").
        """
        rules = self._robots_for(url)
        return rules is None or rules.can_fetch(self._settings.user_agent, url)

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        check_robots: bool = False,
    ) -> Response:
        """Fetch a URL, following at most ``max_redirects`` redirects, each hop checked by the guard.

        Args:
            url: An http(s) URL.
            max_bytes: Largest body accepted, counted after decompression.
            headers: Extra request headers (e.g. conditional GET validators).
            check_robots: Obey robots.txt (article pages; when the robots setting is on), every hop.

        Returns:
            The final response (any status; 4xx/5xx are responses, not exceptions).

        Raises:
            FetchError: No usable response (blocked, timeout, too large, too many redirects...).
        """
        started = time.monotonic()
        redirects: list[str] = []
        current = url
        permanent: str | None = None
        only_permanent = True
        while True:
            check_url_scheme(current)
            if check_robots and self._settings.robots and not self.allowed_by_robots(current):
                if self._robots_for(current) is _UNAVAILABLE:
                    # Not a "no": the page is fetched on a later run, once robots.txt answers.
                    raise FetchError(
                        "robots_unavailable", "robots.txt unreachable: not fetched this run", url=url
                    )
                raise FetchError("robots_disallowed", "disallowed by robots.txt", url=url)
            status, response_headers, body = self._get_once(current, max_bytes, headers)
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
                only_permanent = only_permanent and status in (301, 308)
                if only_permanent:
                    permanent = current
                continue
            return Response(
                url=url,
                final_url=current,
                status=status,
                headers=response_headers,
                body=body,
                redirects=tuple(redirects),
                elapsed=time.monotonic() - started,
                permanent_url=permanent,
            )

    def _get_once(
        self, url: str, max_bytes: int, headers: Mapping[str, str] | None
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            with self._gate(url).turn():
                # The total timeout starts once it is our turn: waiting politely is not the server's fault.
                deadline = time.monotonic() + self._settings.total_timeout
                _DEADLINE.at = deadline
                try:
                    return self._stream(url, max_bytes, headers, deadline)
                finally:
                    _DEADLINE.at = None
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

    def _stream(
        self, url: str, max_bytes: int, headers: Mapping[str, str] | None, deadline: float
    ) -> tuple[int, dict[str, str], bytes]:
        with self._client.stream("GET", url, headers=dict(headers or {})) as resp:
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


def fetch_many(
    client: Fetcher, urls: list[str], *, max_bytes: int, workers: int, check_robots: bool = False
) -> list[Response | FetchError]:
    """Fetch URLs concurrently with a thread pool; each result is a Response or the FetchError it raised.

    Args:
        client: The shared client (politeness per host is enforced inside it).
        urls: URLs to fetch, in the order results are wanted.
        max_bytes: Body cap per response.
        workers: Threads used for the whole batch.
        check_robots: Obey robots.txt.

    Returns:
        One entry per URL, in input order.
    """

    def one(url: str) -> Response | FetchError:
        try:
            return client.get(url, max_bytes=max_bytes, check_robots=check_robots)
        except FetchError as exc:
            return exc

    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(urls))), thread_name_prefix="fetch") as pool:
        return list(pool.map(one, urls))
