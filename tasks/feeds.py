"""Feeds: feed documents (RSS, Atom, RDF, JSON Feed), sitemap sources, fetching; feed lists are tasks.feedlists."""

from __future__ import annotations

import calendar
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan
import feedparser
from lxml import etree, html
from prefect import State, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.runtime import task_run
from prefect.states import Failed

from core.errors import PermanentError
from core.records import FeedEntry, FeedFetch, FeedResult, FeedSource, ParsedFeed
from core.settings import Settings
from tasks.feedlists import FeedListError as FeedListError
from tasks.feedlists import parse_feed_list as parse_feed_list
from tasks.feedlists import parse_feed_toml as parse_feed_toml
from tasks.feedlists import parse_opml as parse_opml
from tasks.health import BACKOFF_BASE as BACKOFF_BASE
from tasks.health import BACKOFF_CAP as BACKOFF_CAP
from tasks.health import BLOCKED_ADDRESS
from tasks.health import RETRY_AFTER_CAP as RETRY_AFTER_CAP
from tasks.health import next_feed_health as next_feed_health
from tasks.http import Fetcher, FetchError, HttpClient, Response, parse_retry_after
from tasks.sitemaps import (
    CURSOR_OVERLAP,
    MAX_SITEMAP_BYTES,
    SITEMAP_KINDS,
    SitemapError,
    SitemapUrl,
    looks_like_sitemap,
    read_sitemap_response,
    walk_sitemaps,
)
from tasks.validate import validate_entry

logger = logging.getLogger(__name__)

# Sanitised HTML (no scripts) and links resolved against the feed URL, whatever another library
# importing feedparser may have set globally.
feedparser.SANITIZE_HTML = True
feedparser.RESOLVE_RELATIVE_URIS = True


class NotAFeedError(PermanentError, ValueError):
    """A document that is neither a feed nor something feedparser can make sense of."""


# --------------------------------------------------------------------------- URLs


def canonical_url(link: str, base: str | None = None) -> str:
    """Canonicalise an article URL so that the same article is recognised across feeds and runs.

    Resolves relative links, lower-cases scheme and host, drops tracking parameters (utm_*, fbclid...)
    and the fragment, and sorts the query (courlan).

    Args:
        link: The link as the feed gave it.
        base: The feed's URL, for relative links.

    Returns:
        The canonical URL (the input, stripped, where it cannot be normalised).
    """
    link = link.strip()
    if base:
        link = urljoin(base, link)
    try:
        normalized = courlan.normalize_url(link, strict=False)
    except (ValueError, AttributeError):
        normalized = link
    parts = urlsplit(normalized)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


# --------------------------------------------------------------------------- feed documents


def html_to_text(fragment: str | None) -> str | None:
    """Flatten an HTML fragment (feed summaries, titles) to whitespace-normalised text.

    Args:
        fragment: HTML or plain text.

    Returns:
        The text, or None when empty.
    """
    if not fragment:
        return None
    if "<" in fragment or "&" in fragment:
        try:
            fragment = html.fromstring(f"<div>{fragment}</div>").text_content()
        except (etree.ParserError, ValueError):
            fragment = re.sub(r"<[^>]+>", " ", fragment)
    text = " ".join(fragment.split())
    return text or None


def construct_text(value: Any, detail: Mapping[str, Any] | None) -> str | None:
    """Read a feedparser text construct: plain text literally (a '<' in it is text), anything else as HTML.

    Args:
        value: The construct's value (title, summary).
        detail: feedparser's ``*_detail`` mapping, whose ``type`` says how to read it.

    Returns:
        Whitespace-normalised text, or None.
    """
    if isinstance(value, str) and (detail or {}).get("type") == "text/plain":
        return " ".join(value.split()) or None
    return html_to_text(value)


def _struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _language_code(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _entry_authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        name = html_to_text(author.get("name") if isinstance(author, Mapping) else str(author))
        if name:
            names.append(name)
    if not names and entry.get("author"):
        name = html_to_text(str(entry["author"]))
        if name:
            names.append(name)
    return tuple(dict.fromkeys(names))


def _entry_link(entry: Mapping[str, Any]) -> str | None:
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        return link
    for alt in entry.get("links") or []:
        if alt.get("rel", "alternate") == "alternate" and alt.get("href"):
            return str(alt["href"])
    guid = entry.get("id")
    if isinstance(guid, str) and guid.startswith(("http://", "https://")):
        return guid
    return None


def parse_feed(data: bytes, feed_url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0, Atom or JSON Feed document into entries.

    Args:
        data: The document as served.
        feed_url: Its URL (base for relative links, and the entries' ``feed_url``).
        headers: Response headers (lower-case keys); Content-Type carries the charset.

    Returns:
        The feed's title and entries; ``warning`` says what was wrong where feedparser still coped.

    Raises:
        NotAFeedError: The document is not a feed (an HTML page, an image, garbage).
    """
    headers = dict(headers or {})
    content_type = headers.get("content-type", "").lower()
    if "json" in content_type or data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"["):
        return parse_json_feed(data, feed_url)
    parsed = feedparser.parse(
        data,
        response_headers={**headers, "content-location": feed_url},
        sanitize_html=True,
    )
    version = parsed.get("version") or ""
    feed_info = parsed.get("feed", {})
    if not parsed.entries and not version:
        reason = parsed.get("bozo_exception")
        raise NotAFeedError(f"not a feed: {reason}" if reason else "not a feed (no RSS/Atom/RDF structure)")
    feed_language = _language_code(feed_info.get("language"))
    entries: list[FeedEntry] = []
    for raw in parsed.entries:
        link = _entry_link(raw)
        if not link:
            continue  # nothing to fetch and nothing to identify it by
        summary = raw.get("summary")
        if not summary and raw.get("content"):
            summary = raw["content"][0].get("value")
        entries.append(
            FeedEntry(
                feed_url=feed_url,
                url=canonical_url(link, feed_url),
                link=link,
                guid=(str(raw["id"]).strip() or None) if raw.get("id") else None,
                title=construct_text(raw.get("title"), raw.get("title_detail")),
                summary=html_to_text(summary),
                authors=_entry_authors(raw),
                published_at=_struct_to_datetime(raw.get("published_parsed") or raw.get("updated_parsed")),
                language=_language_code(raw.get("language")) or feed_language,
            )
        )
    warning = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(
        title=construct_text(feed_info.get("title"), feed_info.get("title_detail")),
        entries=_unique_entries(entries),
        language=feed_language,
        warning=warning,
        kind=feed_kind(version),
    )


def feed_kind(version: str) -> str | None:
    """Name the kind of feed behind feedparser's version string.

    Args:
        version: e.g. ``rss20``, ``atom10``, ``rss10`` (feedparser's ``version``).

    Returns:
        ``rss``, ``atom`` or ``rdf`` (RSS 0.90 and 1.0 are RDF documents); None when unknown.
    """
    if version.startswith("atom"):
        return "atom"
    if version in {"rss090", "rss10"}:
        return "rdf"
    return "rss" if version.startswith("rss") else None


def _parse_json_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json_feed(data: bytes, feed_url: str) -> ParsedFeed:
    """Parse a JSON Feed (1.0 or 1.1) document.

    Args:
        data: The JSON document.
        feed_url: Its URL.

    Returns:
        The feed's title and entries.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAFeedError(f"not a feed: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise NotAFeedError("not a feed: JSON without an 'items' list")
    feed_language = _language_code(doc.get("language"))
    feed_authors = doc.get("authors") or ([doc["author"]] if isinstance(doc.get("author"), dict) else [])
    entries: list[FeedEntry] = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if not isinstance(link, str) and isinstance(item.get("id"), str) and item["id"].startswith("http"):
            link = item["id"]
        if not isinstance(link, str) or not link.strip():
            continue
        authors_raw = item.get("authors") or (
            [item["author"]] if isinstance(item.get("author"), dict) else []
        )
        authors = tuple(
            name
            for name in (
                html_to_text(a.get("name")) for a in (authors_raw or feed_authors) if isinstance(a, dict)
            )
            if name
        )
        link = urljoin(feed_url, link.strip())  # JSON Feed allows relative URLs
        entries.append(
            FeedEntry(
                feed_url=feed_url,
                url=canonical_url(link, feed_url),
                link=link,
                guid=str(item["id"]) if item.get("id") is not None else None,
                title=html_to_text(item.get("title")) if isinstance(item.get("title"), str) else None,
                summary=html_to_text(
                    item.get("summary") or item.get("content_text") or item.get("content_html")
                ),
                authors=authors,
                published_at=_parse_json_date(item.get("date_published") or item.get("date_modified")),
                language=_language_code(item.get("language")) or feed_language,
            )
        )
    title = doc.get("title")
    return ParsedFeed(
        title=html_to_text(title) if isinstance(title, str) else None,
        entries=_unique_entries(entries),
        language=feed_language,
        kind="json",
    )


def _unique_entries(entries: list[FeedEntry]) -> tuple[FeedEntry, ...]:
    # A feed that lists one article twice (e.g. with and without utm_*) must not yield it twice.
    # Every entry's values are checked here, where they become records (tasks/validate.py).
    now = datetime.now(UTC)
    seen: set[str] = set()
    out: list[FeedEntry] = []
    for raw_entry in entries:
        entry = validate_entry(raw_entry, now)
        if entry is not None and entry.url not in seen:
            seen.add(entry.url)
            out.append(entry)
    return tuple(out)


def _fetch_record(feed: FeedSource, response: Response, started_at: datetime) -> partial[FeedFetch]:
    return partial(
        FeedFetch,
        feed_url=feed.url,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        http_status=response.status,
        final_url=response.final_url,
        # New validators are kept even when the body is unchanged (304) or unusable.
        etag=response.headers.get("etag") or feed.etag,
        last_modified=response.headers.get("last-modified") or feed.last_modified,
        moved_to=response.permanent_url if response.permanent_url != feed.url else None,
    )


def feed_result_from_response(feed: FeedSource, response: Response, started_at: datetime) -> FeedResult:
    """Turn a feed's HTTP response into a fetch record and its entries.

    Args:
        feed: The feed that was fetched.
        response: The final HTTP response.
        started_at: When the fetch began.

    Returns:
        The result; HTTP errors and non-feed documents become a fetch record with ``error`` set.
    """
    record = _fetch_record(feed, response, started_at)
    if response.status >= 400:
        return FeedResult(
            record(
                error=f"HTTP {response.status}",
                error_reason=f"http_{response.status}",
                retry_after_s=parse_retry_after(response.headers.get("retry-after")),
            )
        )
    if response.status == 304:
        return FeedResult(record())
    if not response.body.strip():
        return FeedResult(record(error="empty response body", error_reason="empty"))
    try:
        parsed = parse_feed(response.body, feed.url, response.headers)
    except NotAFeedError as exc:
        return FeedResult(record(error=str(exc), error_reason="not_a_feed"))
    if parsed.warning:
        logger.info("feed %s parsed with a warning: %s", feed.url, parsed.warning)
    return FeedResult(record(entries_seen=len(parsed.entries), kind=parsed.kind), parsed.entries)


def sitemap_entry(source_url: str, url: SitemapUrl) -> FeedEntry:
    """Make a feed entry of a sitemap entry; Google News fields stand in for the feed-entry fields.

    Args:
        source_url: The sitemap source (the entry's ``feed_url``).
        url: The sitemap entry.

    Returns:
        The entry (no GUID: a sitemap location is its only identity).
    """
    return FeedEntry(
        feed_url=source_url,
        url=canonical_url(url.loc),
        link=url.loc,
        title=url.title,
        published_at=url.dated,
        language=url.language,
    )


def sitemap_since(feed: FeedSource) -> datetime | None:
    """Return the date a sitemap source's entries must be newer than (its cursor, less an overlap).

    Args:
        feed: The source, with the cursor of its last complete successful fetch.

    Returns:
        The cutoff, or None when every entry counts (first fetch).
    """
    return feed.cursor_at - CURSOR_OVERLAP if feed.cursor_at else None


def sitemap_result(client: Fetcher, feed: FeedSource, response: Response, started_at: datetime) -> FeedResult:
    """Read a sitemap source from its 200 response: an index leads to its sitemaps, entries become feed entries.

    Args:
        client: The HTTP client, for the sitemaps an index lists.
        feed: The source.
        response: Its 200 response.
        started_at: When the fetch began.

    Returns:
        The result: entries newer than the source's cursor, newest first; a refused or broken
        sitemap (or an index whose every sitemap failed) becomes a fetch record with ``error`` set.
    """
    record = _fetch_record(feed, response, started_at)
    try:
        sitemap = read_sitemap_response(response)
        walk = walk_sitemaps(client, feed.url, sitemap, sitemap_since(feed))
    except SitemapError as exc:
        return FeedResult(record(error=str(exc), error_reason=exc.reason, kind=feed.kind))
    if walk.errors:
        logger.warning(
            "sitemap source %s: %d sitemaps failed, first: %s", feed.url, len(walk.errors), walk.errors[0]
        )
    entries = _unique_entries([sitemap_entry(feed.url, url) for url in walk.urls])
    fetch = record(
        entries_seen=walk.listed, kind=walk.kind, backlog=walk.backlog, finished_at=datetime.now(UTC)
    )
    return FeedResult(fetch, entries)


def no_feed_fetched_message(fetches: Sequence[FeedFetch]) -> str:
    """Explain a run in which every feed failed: how many, the most common reason, and its fix.

    Args:
        fetches: The run's fetch records (all failed).

    Returns:
        One line for the user.
    """
    reasons = Counter(f.error_reason or "error" for f in fetches)
    reason, count = reasons.most_common(1)[0]
    example = min((f for f in fetches if (f.error_reason or "error") == reason), key=lambda f: f.feed_url)
    message = f"no feed could be fetched: {count} of {len(fetches)} failed with {reason}"
    if reason == BLOCKED_ADDRESS:
        hosts = sorted(
            {urlsplit(f.feed_url).hostname or f.feed_url for f in fetches if f.error_reason == reason}
        )
        shown = ",".join(hosts[:5])
        message += (
            f" ({', '.join(hosts[:5])} resolve{'s' if len(hosts) == 1 else ''} to a private, loopback or "
            f"link-local address, which wirehouse refuses unless allowed by name: "
            f"set WIREHOUSE_ALLOW_PRIVATE_HOSTS={shown})"
        )
    elif example.error:
        message += f" (e.g. {example.feed_url}: {example.error})"
    others = [f"{n} {r}" for r, n in reasons.most_common()[1:]]
    if others:
        message += f"; also {', '.join(others)}"
    return message + "; see the feed_fetches view"


def settled_fetches(results: Sequence[FeedResult], entries_stored: int) -> list[FeedFetch]:
    """The fetch records an interrupted run can store without claiming articles it did not store.

    Args:
        results: Feed results in the order their entries were batched.
        entries_stored: How many of those entries, from the first, are stored.

    Returns:
        The fetches of feeds whose entries are all stored (feeds without entries included).
    """
    settled: list[FeedFetch] = []
    end = 0
    for result in results:
        end += len(result.entries)
        if end <= entries_stored or not result.entries:
            settled.append(result.fetch)
    return settled


def failed_feed_result(feed: FeedSource, error: BaseException, started_at: datetime) -> FeedResult:
    """Record a feed fetch that got no usable response.

    Args:
        feed: The feed.
        error: What went wrong (a FetchError, or anything a retrying task finally raised).
        started_at: When the fetch began.

    Returns:
        A result with no entries and the error recorded.
    """
    reason = error.reason if isinstance(error, FetchError) else type(error).__name__
    status = error.status if isinstance(error, FetchError) else None
    return FeedResult(
        FeedFetch(
            feed_url=feed.url,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            http_status=status,
            error=str(error) or type(error).__name__,
            error_reason=reason,
            etag=feed.etag,  # a failed fetch keeps the validators we had
            last_modified=feed.last_modified,
        )
    )


def fetch_feed_result(client: HttpClient, feed: FeedSource, settings: Settings) -> FeedResult:
    """Fetch and parse one feed; transient failures raise so that the task can retry.

    Args:
        client: The shared HTTP client.
        feed: The feed to fetch.
        settings: Size caps.

    Returns:
        The fetch record and all entries the feed lists.

    Raises:
        FetchError: A transient failure (timeout, connection refused, 5xx, 429) worth a retry.
    """
    started = datetime.now(UTC)
    is_sitemap = feed.kind in SITEMAP_KINDS
    cap = max(settings.max_feed_bytes, MAX_SITEMAP_BYTES) if is_sitemap else settings.max_feed_bytes
    try:
        response = client.get(feed.url, max_bytes=cap, headers=conditional_headers(feed))
    except FetchError as exc:
        if exc.transient:
            raise
        return failed_feed_result(feed, exc, started)
    if response.status in (500, 502, 504) or (
        response.status in (429, 503) and parse_retry_after(response.headers.get("retry-after")) is None
    ):
        raise FetchError("http_status", f"HTTP {response.status}", url=feed.url, status=response.status)
    # A 429/503 with Retry-After is not retried now: the server said when, and next_fetch_at obeys it.
    if response.status == 200 and (is_sitemap or looks_like_sitemap(response.body)):
        return sitemap_result(client, feed, response, started)
    return feed_result_from_response(feed, response, started)


def conditional_headers(feed: FeedSource) -> dict[str, str]:
    """Build If-None-Match / If-Modified-Since from the feed's stored validators.

    Args:
        feed: The feed with the validators of its last successful fetch.

    Returns:
        The request headers (empty when nothing is stored).
    """
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


def is_transient(error: BaseException | None) -> bool:
    """Tell whether a feed task's exception deserves a retry.

    Args:
        error: What the attempt raised (None: it did not raise).

    Returns:
        True for transient fetch errors.
    """
    return isinstance(error, FetchError) and error.transient


def read_feed_list_source(source: str, client: HttpClient, settings: Settings) -> list[FeedSource]:
    """Read a feed list (or a single feed, subscribed to by its URL) from a local path or an http(s) URL.

    Args:
        source: A file path or URL.
        client: Used for URLs only.
        settings: Size cap for a downloaded list.

    Returns:
        The feeds it lists.
    """
    if re.match(r"^https?://", source, re.IGNORECASE):
        try:
            response = client.get(source, max_bytes=settings.max_feed_bytes)
        except FetchError as exc:
            raise FeedListError(f"cannot download feed list {source}: {exc}") from exc
        if response.status != 200:
            raise FeedListError(f"cannot download feed list {source}: HTTP {response.status}")
        return parse_feed_list(response.body, source, url=source)
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise FeedListError(f"feed list {source} does not exist") from exc
    except OSError as exc:
        raise FeedListError(f"cannot read feed list {source}: {exc.strerror}") from exc
    return parse_feed_list(data, source)


# --------------------------------------------------------------------------- Prefect tasks


# No tags on any task: Prefect asks the server for tag concurrency slots on every run of a tagged
# task, and with 16 feeds at once those requests queue up behind each other (seconds per feed).
@task(
    name="fetch-feed",
    task_run_name="fetch-feed {feed.url}",
    retry_condition_fn=lambda _task, _run, state: is_transient(state_exception(state)),
    cache_policy=NO_CACHE,
)
def fetch_feed(client: HttpClient, feed: FeedSource, settings: Settings) -> FeedResult | State[FeedResult]:
    """Fetch one feed; transient errors are retried by Prefect, the last attempt records the failure.

    Args:
        client: The shared HTTP client.
        feed: The feed.
        settings: Run settings (``feed_retries`` must match the task's retries).

    Returns:
        Its fetch record and entries; for a fetch that failed, a Failed state holding that record.
    """
    started = datetime.now(UTC)
    try:
        result = fetch_feed_result(client, feed, settings)
    except FetchError as exc:
        if task_run.run_count <= settings.feed_retries:
            raise  # Prefect tries again after retry_delay
        result = failed_feed_result(feed, exc, started)
    if result.fetch.error:
        # Red in the UI, yet the run goes on: the flow takes the record from the state (feed_result_of).
        return Failed(name="Failed fetch", message=result.fetch.error, data=result)
    return result


class _QuietExhaustedFetch(logging.Filter):
    """Drop Prefect's "Task run failed with state: Failed fetch(<the whole record>) - Retries are exhausted".

    Prefect logs it (with an empty traceback, "NoneType: None") when a retried task returns a Failed
    state; its "Finished in state Failed fetch('<error>')" line right after says the same in one line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Task run failed with state: Failed fetch(")


def quiet_exhausted_fetches() -> None:
    """Install the filter on Prefect's task-run logger (once per process; console and UI alike)."""
    task_logger = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _QuietExhaustedFetch) for f in task_logger.filters):
        task_logger.addFilter(_QuietExhaustedFetch())


def feed_result_of(state: Any) -> FeedResult | None:
    """Return the result a finished fetch-feed task holds, failed fetches included (None if it has none).

    Args:
        state: The task run's final state.

    Returns:
        Its FeedResult, or None when the task ended without one (it raised).
    """
    data = state.result(raise_on_failure=False)
    return data if isinstance(data, FeedResult) else None


def state_exception(state: Any) -> BaseException | None:
    """Return the exception a finished Prefect state holds (None for a successful one).

    Args:
        state: A task run's final state.

    Returns:
        The exception, or None.
    """
    try:
        state.result()
    except BaseException as exc:
        return exc
    return None


@task(name="read-feed-list", retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_feed_list(source: str, client: HttpClient, settings: Settings) -> list[FeedSource]:
    """Read a feed list (OPML/TOML/URL list) from a path or URL.

    Args:
        source: Path or http(s) URL.
        client: The shared HTTP client.
        settings: Run settings.

    Returns:
        The feeds it lists.
    """
    return read_feed_list_source(source, client, settings)
