"""Feed fetching: one feed (or sitemap source) by conditional GET, transient failures raised for a retry, results as records.

Also reads feed lists from a path or URL and words a run's failures; parsing is tasks.feedparse.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from core.records import FeedEntry, FeedFetch, FeedResult, FeedSource
from core.settings import Settings
from tasks.feedlists import FeedListError, parse_feed_list
from tasks.feedparse import NotAFeedError, _unique_entries, parse_feed
from tasks.health import BLOCKED_ADDRESS
from tasks.http import Fetcher, FetchError, HttpClient, Response, parse_retry_after
from tasks.retry import FETCH_RETRIES
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
from tasks.urls import canonical_url

logger = logging.getLogger(__name__)


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
    if FETCH_RETRIES.retry_now(response.status, parse_retry_after(response.headers.get("retry-after"))):
        raise FetchError("http_status", f"HTTP {response.status}", url=feed.url, status=response.status)
    # A transient status with Retry-After is not retried now: the server said when, and next_fetch_at obeys it.
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
