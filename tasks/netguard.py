"""The SSRF guard and the request deadline, down at the socket.

httpx's transport here connects only to addresses the guard allows (the sample newsroom's host to its
loopback port) and cuts every read and write short at the request's total timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from tasks.responses import NOT_SERVED, BlockedAddressError, FetchError

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


@contextmanager
def request_deadline(deadline: float) -> Iterator[None]:
    """Cut every socket read and write this thread makes short at ``deadline``.

    Args:
        deadline: The request's end, in ``time.monotonic()`` seconds.
    """
    _DEADLINE.at = deadline
    try:
        yield
    finally:
        _DEADLINE.at = None


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


class GuardedTransport(httpx.HTTPTransport):
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
