"""Discovery: from a homepage (or a feed or sitemap URL) to the feeds and sitemaps a site offers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree, html

from core.errors import PermanentError
from core.records import FeedSource
from core.settings import Settings
from tasks.feeds import NotAFeedError, parse_feed
from tasks.http import Fetcher, FetchError, Response
from tasks.sitemaps import (
    MAX_INDEX_DEPTH,
    MAX_SITEMAP_BYTES,
    Sitemap,
    SitemapError,
    looks_like_sitemap,
    read_sitemap_response,
)

# Link types a page declares its feeds with, and the kind each promises.
FEED_LINK_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/rdf+xml": "rdf",
    "application/feed+json": "json",
    "application/json": "json",
}
# Where sites put feeds without declaring them; each is asked for once.
USUAL_FEED_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/index.xml",
    "/feed.json",
    "/feeds/all.atom.xml",
    "/feeds/posts/default",
)
# Asked for only when robots.txt names no sitemap.
USUAL_SITEMAP_PATH = "/sitemap.xml"
# Sitemaps of an index read to find its news sitemaps (names saying "news" first, then the newest).
MAX_INDEX_CHILDREN = 20


class DiscoveryError(PermanentError):
    """A URL that cannot be discovered from (unreachable, an error status, nothing usable)."""


@dataclass(frozen=True)
class Finding:
    """One source found on a site."""

    url: str
    kind: str | None
    via: str  # how it was found: "given", "declared", "usual path", "robots.txt", "index <url>"
    title: str | None = None
    category: str | None = None  # the site
    stored: bool = True  # False: covered by a source found with it (a plain sitemap of an index)
    note: str | None = None  # why it is not stored, or what went wrong

    def source(self) -> FeedSource:
        """The finding as a feed to store."""
        return FeedSource(url=self.url, title=self.title, category=self.category, kind=self.kind)


# --------------------------------------------------------------------------- pure functions


def site_name(url: str) -> str:
    """Name a site by its host (lower case, without ``www.``), the category of what is found on it.

    Args:
        url: Any URL of the site.

    Returns:
        e.g. ``paper.example`` (a port is kept: it is part of the site).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    return f"{host}:{parts.port}" if parts.port else host


def declared_feeds(page: bytes, base_url: str) -> list[tuple[str, str, str | None]]:
    """Read the feeds a page declares with ``<link rel="alternate" type="...">``.

    Args:
        page: The HTML.
        base_url: The page's URL (links may be relative; ``<base href>`` is honoured).

    Returns:
        ``(url, kind, title)`` per declared feed, in page order, each URL once.
    """
    try:
        doc = html.fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    base = next((b for b in doc.xpath("//base/@href") if isinstance(b, str)), None)
    base_url = urljoin(base_url, base.strip()) if base else base_url
    found: dict[str, tuple[str, str, str | None]] = {}
    for link in doc.xpath("//link[@href]"):
        rel = {r.lower() for r in (link.get("rel") or "").split()}
        media = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rel or media not in FEED_LINK_TYPES:
            continue
        url = urljoin(base_url, (link.get("href") or "").strip())
        if re.match(r"^https?://", url, re.IGNORECASE) and url not in found:
            found[url] = (url, FEED_LINK_TYPES[media], (link.get("title") or "").strip() or None)
    return list(found.values())


def robots_sitemaps(text: str, base_url: str) -> list[str]:
    """Read the ``Sitemap:`` lines of a robots.txt.

    Args:
        text: The robots.txt body.
        base_url: Its URL (for relative lines, which the standard does not allow but sites write).

    Returns:
        The sitemap URLs, each once, in file order.
    """
    urls: dict[str, None] = {}
    for line in text.splitlines():
        match = re.match(r"^\s*sitemap\s*:\s*(\S+)", line, re.IGNORECASE)
        if match:
            url = urljoin(base_url, match.group(1))
            if re.match(r"^https?://", url, re.IGNORECASE):
                urls[url] = None
    return list(urls)


def _index_children_order(sitemap: Sitemap) -> list[str]:
    newest = sorted(sitemap.urls, key=lambda u: u.dated.timestamp() if u.dated else 0.0, reverse=True)
    return [u.loc for u in sorted(newest, key=lambda u: "news" not in u.loc.lower())]


# --------------------------------------------------------------------------- fetching


class _Site:
    """One discovery's requests: each URL asked for at most once."""

    def __init__(self, client: Fetcher, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.responses: dict[str, Response | FetchError] = {}

    def get(self, url: str, max_bytes: int | None = None) -> Response | FetchError:
        if url not in self.responses:
            try:
                self.responses[url] = self.client.get(
                    url, max_bytes=max_bytes or self.settings.max_feed_bytes
                )
            except FetchError as exc:
                self.responses[url] = exc
        return self.responses[url]


def _as_feed(response: Response) -> tuple[str | None, str | None] | None:
    """The kind and title of a response that is a feed, else None."""
    if response.status != 200 or not response.body.strip() or response.content_type == "text/html":
        return None
    try:
        parsed = parse_feed(response.body, response.final_url, response.headers)
    except NotAFeedError:
        return None
    return parsed.kind, parsed.title


def discover(client: Fetcher, url: str, settings: Settings) -> list[Finding]:
    """Find a site's feeds and sitemaps from a homepage, a feed or a sitemap URL.

    Order: the URL itself (a feed or a sitemap is taken as it is); for a page, the feeds it declares,
    the usual feed paths, the ``Sitemap:`` lines of robots.txt (else ``/sitemap.xml``) and the news
    sitemaps those sitemap indexes list.

    Args:
        client: The HTTP client (SSRF guard, politeness and size caps are inside it).
        url: What the user gave.
        settings: Size caps.

    Returns:
        What was found, in discovery order, each URL once; findings with ``stored=False`` are covered
        by another (a plain sitemap of a stored index) or failed (``note`` says why).

    Raises:
        DiscoveryError: The URL cannot be fetched, or is neither a page, a feed nor a sitemap.
    """
    site = _Site(client, settings)
    category = site_name(url)
    first = site.get(url, max(settings.max_page_bytes, MAX_SITEMAP_BYTES))
    if isinstance(first, FetchError):
        raise DiscoveryError(f"cannot fetch {url}: {first}")
    if first.status != 200:
        raise DiscoveryError(f"cannot fetch {url}: HTTP {first.status}")
    findings: dict[str, Finding] = {}

    def add(finding: Finding) -> None:
        findings.setdefault(finding.url, finding)

    if looks_like_sitemap(first.body):
        try:
            sitemap = read_sitemap_response(first)
        except SitemapError as exc:
            raise DiscoveryError(f"{url}: {exc}") from exc
        add(Finding(url, sitemap.kind, "given", category=category))
        if sitemap.is_index:
            _index_findings(site, url, sitemap, category, add, depth=1)
        return list(findings.values())
    feed = _as_feed(first)
    if feed is not None:
        add(Finding(url, feed[0], "given", title=feed[1], category=category))
        return list(findings.values())
    if "html" not in first.content_type and not first.body.lstrip()[:1] == b"<":
        raise DiscoveryError(
            f"{url} is neither a page, a feed nor a sitemap ({first.content_type or 'no type'})"
        )

    # A feed a page declares is kept even when it fails now (the site says it is there); a usual path
    # only when it answers with a feed.
    for link, kind, title in declared_feeds(first.body, first.final_url):
        response = site.get(link)
        found = _as_feed(response) if isinstance(response, Response) else None
        if found:
            add(Finding(link, found[0] or kind, "declared", found[1] or title, category))
        else:
            note = f"does not answer with a feed now ({_failure(response)})"
            add(Finding(link, kind, "declared", title, category, note=note))
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(first.final_url))
    for path in USUAL_FEED_PATHS:
        link = origin + path
        if link in findings:
            continue
        response = site.get(link)
        found = _as_feed(response) if isinstance(response, Response) else None
        if found and isinstance(response, Response) and response.final_url not in findings:
            add(Finding(response.final_url, found[0], "usual path", found[1], category))

    robots = site.get(f"{origin}/robots.txt", 512 * 1024)
    named = (
        robots_sitemaps(robots.body.decode("utf-8", errors="replace"), robots.final_url)
        if isinstance(robots, Response) and robots.status == 200
        else []
    )
    candidates = [(u, "robots.txt") for u in named] or [(origin + USUAL_SITEMAP_PATH, "usual path")]
    for sitemap_url, via in candidates:
        if sitemap_url in findings:
            continue
        response = site.get(sitemap_url, MAX_SITEMAP_BYTES)
        try:
            sitemap = _sitemap_of(response)
        except (SitemapError, FetchError) as exc:
            if via == "robots.txt":  # a guessed path that is not there is no news
                add(Finding(sitemap_url, "sitemap", via, category=category, stored=False, note=str(exc)))
            continue
        add(Finding(sitemap_url, sitemap.kind, via, category=category))
        if sitemap.is_index:
            _index_findings(site, sitemap_url, sitemap, category, add, depth=1)
    return list(findings.values())


def _sitemap_of(response: Response | FetchError) -> Sitemap:
    """The sitemap a response holds; raises the fetch error, or a SitemapError for a non-200 answer."""
    if isinstance(response, FetchError):
        raise response
    if response.status != 200:
        raise SitemapError(f"http_{response.status}", f"HTTP {response.status}")
    return read_sitemap_response(response)


def _failure(response: Response | FetchError) -> str:
    if isinstance(response, FetchError):
        return response.reason
    return f"HTTP {response.status}" if response.status != 200 else "not a feed"


def _index_findings(
    site: _Site, index_url: str, index: Sitemap, category: str, add: Callable[[Finding], None], depth: int
) -> None:
    """Read an index's sitemaps (news ones first): news sitemaps are stored, plain ones are covered."""
    via = f"index {index_url}"
    for child in _index_children_order(index)[:MAX_INDEX_CHILDREN]:
        response = site.get(child, MAX_SITEMAP_BYTES)
        try:
            sitemap = _sitemap_of(response)
        except (SitemapError, FetchError) as exc:
            add(Finding(child, None, via, category=category, stored=False, note=str(exc)))
            continue
        if sitemap.news:
            add(Finding(child, "news-sitemap", via, category=category))
            continue
        add(Finding(child, "sitemap", via, category=category, stored=False, note="covered by the index"))
        if sitemap.is_index and depth < MAX_INDEX_DEPTH:
            _index_findings(site, child, sitemap, category, add, depth + 1)
