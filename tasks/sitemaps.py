"""Sitemaps: sitemap indexes, urlsets and Google News sitemaps (plain or gzipped), parsed and walked."""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO

from lxml import etree

from core.errors import PermanentError
from tasks.http import Fetcher, FetchError, Response

logger = logging.getLogger(__name__)

# The sitemaps protocol's own limits (sitemaps.org): 50,000 URLs and 50 MB uncompressed per file.
MAX_SITEMAP_URLS = 50_000
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
# Indexes are not meant to nest; an index inside an index is still read, anything deeper is refused.
MAX_INDEX_DEPTH = 2
# Sitemaps read per source and run (newest first): an index of thousands of archive sitemaps must not
# hold a run for hours at one request per host-delay, nor millions of entries in memory. An index's
# sitemaps are read until this many have been read or MAX_SITEMAP_URLS entries are new; the rest wait.
MAX_SITEMAPS_PER_RUN = 50
# Publishers date entries before they list them, and failed pages are retried for hours: an entry dated
# up to this long before the last successful fetch is still looked at (known URLs are skipped anyway).
CURSOR_OVERLAP = timedelta(days=1)
SITEMAP_KINDS = frozenset({"sitemap", "news-sitemap"})

# Media types nothing serves a sitemap as; anything else (XML, text, octet-stream, gzip) is parsed.
_WRONG_TYPES = re.compile(r"^(image|audio|video|font|model)/|^application/(pdf|zip|msword|vnd\.|javascript)")
_ROOT = re.compile(rb"<(?:[\w.-]+:)?(urlset|sitemapindex)[\s>/]")
_HTML = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)
_GZIP_MAGIC = b"\x1f\x8b"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SitemapError(PermanentError, ValueError):
    """A sitemap that cannot be used; ``reason`` is the short code recorded in ``feed_fetches``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SitemapUrl:
    """One ``<url>`` of a urlset or one ``<sitemap>`` of an index, with its Google News fields."""

    loc: str
    lastmod: datetime | None = None
    title: str | None = None  # news:title
    language: str | None = None  # news:language (ISO 639)
    published_at: datetime | None = None  # news:publication_date

    @property
    def dated(self) -> datetime | None:
        """The entry's date: its publication date where it has one, else its last modification."""
        return self.published_at or self.lastmod


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap document."""

    is_index: bool
    urls: tuple[SitemapUrl, ...]
    news: bool = False  # a urlset with Google News entries

    @property
    def kind(self) -> str:
        """``news-sitemap`` or ``sitemap`` (an index is a sitemap)."""
        return "news-sitemap" if self.news else "sitemap"


# --------------------------------------------------------------------------- pure parsing


def looks_like_sitemap(data: bytes) -> bool:
    """Tell from the first bytes whether a document is a sitemap (or gzipped, so no feed).

    Args:
        data: A response body.

    Returns:
        True for a gzip stream or a document whose root is ``urlset``/``sitemapindex``.
    """
    if data[:2] == _GZIP_MAGIC:
        return True
    match = _ROOT.search(data[:4096])
    return match is not None and not re.search(rb"<(rss|feed|rdf:RDF)[\s>]", data[: match.start()])


def check_content_type(content_type: str) -> None:
    """Refuse media types that are never a sitemap (images, PDFs...).

    Args:
        content_type: The media type without parameters, lower case.
    """
    if content_type and _WRONG_TYPES.search(content_type):
        raise SitemapError("wrong_content_type", f"served as {content_type}, not as a sitemap")


def gunzip(data: bytes, max_bytes: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress a gzipped sitemap (``.xml.gz``); other bytes are returned unchanged.

    Args:
        data: The body as served (HTTP Content-Encoding already undone by the client).
        max_bytes: Largest decompressed size accepted.

    Returns:
        The XML bytes.
    """
    if data[:2] != _GZIP_MAGIC:
        return data
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # max_length stops a gzip bomb after max_bytes + 1 bytes instead of inflating it whole.
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError("bad_gzip", f"broken gzip: {exc}") from exc
    if len(out) > max_bytes:
        raise SitemapError("too_large", f"sitemap exceeds {max_bytes} bytes once decompressed")
    if not inflater.eof:
        raise SitemapError("bad_gzip", "broken gzip: the stream ends early")
    return out


def parse_w3c_datetime(value: str | None) -> datetime | None:
    """Read a W3C datetime (``2024``, ``2024-10``, ``2024-10-01``, ``2024-10-01T12:00:00+02:00``).

    Args:
        value: The text of ``lastmod`` or ``publication_date``.

    Returns:
        An aware datetime (naive means UTC), or None when absent or unreadable.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _local(tag: object) -> str:
    # Comments and processing instructions have no string tag; names are compared without namespace.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(element: etree._Element) -> str | None:
    return " ".join(element.text.split()) or None if element.text else None


def _entry_fields(entry: etree._Element) -> dict[str, str | None]:
    """Read an entry's loc, lastmod and Google News fields in one pass over its children."""
    fields: dict[str, str | None] = {}
    for child in entry:
        name = _local(child.tag)
        if name in {"loc", "lastmod"}:
            fields[name] = _text(child)
        elif name == "news":
            fields["news"] = ""
            for item in child:
                field_name = _local(item.tag)
                if field_name in {"title", "publication_date"}:
                    fields[field_name] = _text(item)
                elif field_name == "publication":
                    for detail in item:
                        if _local(detail.tag) == "language":
                            fields["language"] = _text(detail)
    return fields


def _language(value: str | None) -> str | None:
    code = (value or "").strip().replace("_", "-").split("-")[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def parse_sitemap(data: bytes, max_urls: int = MAX_SITEMAP_URLS) -> Sitemap:
    """Parse a sitemap index or urlset (plain or gzipped), with Google News fields where present.

    Args:
        data: The document's bytes.
        max_urls: Most entries accepted; a longer sitemap is refused.

    Returns:
        The sitemap's entries in document order (http(s) locations only, each once).

    Raises:
        SitemapError: Not a sitemap, refused XML (DOCTYPE/entities), too many URLs, broken gzip.
    """
    data = gunzip(data)
    if _HTML.match(data[:65536].removeprefix(b"\xef\xbb\xbf")):
        raise SitemapError("not_a_sitemap", "an HTML page, not a sitemap")
    root = _ROOT.search(data)
    if re.search(rb"<!(DOCTYPE|ENTITY)", data[: root.start()] if root else data[:65536], re.IGNORECASE):
        # Sitemaps never need a DTD; refusing one stops entity bombs and XXE before any parsing.
        raise SitemapError("xml_doctype", "sitemap with a DOCTYPE or entity declarations is refused")
    urls: list[SitemapUrl] = []
    seen: set[str] = set()
    root_name: str | None = None
    news = False
    events = etree.iterparse(
        BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    try:
        for event, element in events:
            if event == "start":
                if root_name is None:
                    root_name = _local(element.tag)
                    if root_name not in {"urlset", "sitemapindex"}:
                        raise SitemapError("not_a_sitemap", f"not a sitemap (root element is <{root_name}>)")
                continue
            parent = element.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # the root itself, or something inside an entry: only the root's children are entries
            if _local(element.tag) in {"url", "sitemap"}:
                fields = _entry_fields(element)
                loc = fields.get("loc")
                if loc and re.match(r"^https?://", loc, re.IGNORECASE) and loc not in seen:
                    if len(urls) >= max_urls:
                        raise SitemapError("too_many_urls", f"sitemap lists more than {max_urls} URLs")
                    seen.add(loc)
                    news = news or "news" in fields
                    urls.append(
                        SitemapUrl(
                            loc=loc,
                            lastmod=parse_w3c_datetime(fields.get("lastmod")),
                            title=fields.get("title"),
                            language=_language(fields.get("language")),
                            published_at=parse_w3c_datetime(fields.get("publication_date")),
                        )
                    )
            # Entries are done with: free them so a 50 MB sitemap does not become a 500 MB tree.
            element.clear()
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise SitemapError("not_a_sitemap", f"not well-formed XML: {exc}") from exc
    if root_name is None:
        raise SitemapError("not_a_sitemap", "empty document")
    return Sitemap(is_index=root_name == "sitemapindex", urls=tuple(urls), news=news)


def newer_than(urls: tuple[SitemapUrl, ...] | list[SitemapUrl], since: datetime | None) -> list[SitemapUrl]:
    """Keep entries dated after ``since`` (undated ones always), newest first.

    Args:
        urls: Sitemap entries.
        since: The cutoff (None keeps everything).

    Returns:
        The entries to look at, dated ones newest first, then the undated in document order.
    """
    kept = [u for u in urls if since is None or u.dated is None or u.dated > since]
    dated = sorted((u for u in kept if u.dated), key=lambda u: u.dated or _EPOCH, reverse=True)
    return dated + [u for u in kept if u.dated is None]


# --------------------------------------------------------------------------- fetching


@dataclass
class SitemapWalk:
    """What reading a sitemap source (and, for an index, its sitemaps) gave."""

    kind: str
    urls: list[SitemapUrl] = field(default_factory=list)
    listed: int = 0  # entries listed in every sitemap read, new or not
    sitemaps_read: int = 0
    urlsets_read: int = 0
    errors: list[SitemapError | FetchError] = field(default_factory=list)
    backlog: bool = False  # sitemaps left unread (per-run cap): the cursor must not move


def read_sitemap_response(response: Response) -> Sitemap:
    """Check and parse a sitemap response.

    Args:
        response: A 200 response.

    Returns:
        The parsed sitemap.
    """
    check_content_type(response.content_type)
    if not response.body.strip():
        raise SitemapError("empty", "empty response body")
    return parse_sitemap(response.body)


def _fetch_sitemap(client: Fetcher, url: str) -> Sitemap:
    response = client.get(url, max_bytes=MAX_SITEMAP_BYTES)
    if response.status != 200:
        raise SitemapError(f"http_{response.status}", f"{url}: HTTP {response.status}")
    return read_sitemap_response(response)


def walk_sitemaps(client: Fetcher, url: str, first: Sitemap, since: datetime | None) -> SitemapWalk:
    """Follow a sitemap index to its sitemaps (depth-limited, loop-safe) and collect the entries.

    Args:
        client: The HTTP client (politeness, SSRF guard and size caps are inside it).
        url: The source's URL.
        first: The source's own document, already fetched and parsed.
        since: Only entries (and sitemaps of an index) dated after this are wanted.

    Returns:
        The entries newer than ``since`` and what went wrong on the way. When every sitemap of an
        index failed, the first error is raised instead.
    """
    walk = SitemapWalk(kind=first.kind)
    seen = {url}
    budget = [MAX_SITEMAPS_PER_RUN]

    def visit(sitemap: Sitemap, where: str, depth: int) -> None:
        walk.sitemaps_read += 1
        if not sitemap.is_index:
            walk.urlsets_read += 1
            walk.listed += len(sitemap.urls)
            walk.urls.extend(newer_than(sitemap.urls, since))
            return
        if depth >= MAX_INDEX_DEPTH:
            walk.errors.append(
                SitemapError("too_deep", f"{where}: sitemap indexes nested deeper than {MAX_INDEX_DEPTH}")
            )
            return
        for child in newer_than(sitemap.urls, since):
            if child.loc in seen:
                walk.errors.append(SitemapError("sitemap_loop", f"{where} lists {child.loc} again (a loop)"))
                continue
            if budget[0] <= 0 or len(walk.urls) >= MAX_SITEMAP_URLS:
                walk.backlog = True  # enough for one run: the rest wait, and the cursor stays
                break
            seen.add(child.loc)
            budget[0] -= 1
            try:
                visit(_fetch_sitemap(client, child.loc), child.loc, depth + 1)
            except (SitemapError, FetchError) as exc:
                logger.info("sitemap %s: %s", child.loc, exc)
                walk.errors.append(exc if isinstance(exc, FetchError) else _located(exc, child.loc))

    visit(first, url, 0)
    if walk.errors and not walk.urlsets_read:
        raise _as_sitemap_error(walk.errors[0])
    walk.urls = newer_than(walk.urls, None)  # newest first across all sitemaps read
    return walk


def _located(exc: SitemapError, url: str) -> SitemapError:
    message = str(exc)
    return exc if message.startswith(url) else SitemapError(exc.reason, f"{url}: {message}")


def _as_sitemap_error(exc: SitemapError | FetchError) -> SitemapError:
    if isinstance(exc, SitemapError):
        return exc
    return SitemapError(exc.reason, f"{exc.url}: {exc}")
