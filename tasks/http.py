"""HTTP: the client through which wirehouse talks to the network (timeouts, size caps, redirects, robots.txt).

The SSRF guard and deadline are in tasks.netguard, per-host politeness in tasks.politeness, and the
Response, FetchError and header readers in tasks.responses (all importable from here as before).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from core.settings import DEMO_HOST, DEMO_PORT, Settings
from tasks.netguard import GuardedTransport, request_deadline
from tasks.netguard import check_url_scheme as check_url_scheme
from tasks.netguard import is_allowed_host as is_allowed_host
from tasks.netguard import is_public_address as is_public_address
from tasks.politeness import ROBOTS_UNAVAILABLE, HostGate
from tasks.politeness import parse_robots as parse_robots
from tasks.responses import NOT_SERVED as NOT_SERVED
from tasks.responses import REDIRECT_STATUSES as REDIRECT_STATUSES
from tasks.responses import TRANSIENT_STATUSES as TRANSIENT_STATUSES
from tasks.responses import BlockedAddressError as BlockedAddressError
from tasks.responses import Fetcher as Fetcher
from tasks.responses import FetchError as FetchError
from tasks.responses import Response as Response
from tasks.responses import charset_from_content_type as charset_from_content_type
from tasks.responses import parse_retry_after as parse_retry_after

logger = logging.getLogger(__name__)


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
            transport=GuardedTransport(settings.allow_private_hosts, max_connections, local_hosts),
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
        self._gates: dict[str, HostGate] = {}
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

    def _gate(self, url: str) -> HostGate:
        host = (urlsplit(url).hostname or "").lower()
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = HostGate(self._settings.host_concurrency, self._settings.host_delay)
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
                rules = ROBOTS_UNAVAILABLE
            else:
                if response.status >= 500:
                    rules = ROBOTS_UNAVAILABLE
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
                if self._robots_for(current) is ROBOTS_UNAVAILABLE:
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
                with request_deadline(deadline):
                    return self._stream(url, max_bytes, headers, deadline)
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
