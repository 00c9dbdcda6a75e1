"""Pages: fetch the article pages behind feed entries, concurrently and politely, as Page records."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from core.records import FeedEntry, Page, Recheck
from core.settings import Settings
from tasks.http import FetchError, HttpClient, Response, fetch_many
from tasks.retry import FETCH_RETRIES


def page_from_response(entry: FeedEntry, outcome: Response | FetchError, fetched_at: datetime) -> Page:
    """Turn the outcome of one page fetch into a Page record.

    Args:
        entry: The feed entry the page belongs to.
        outcome: The response, or the error that stood in for one.
        fetched_at: When the fetch was made.

    Returns:
        The page; on error, ``body`` is None and ``error``/``error_reason`` say why.
    """
    if isinstance(outcome, FetchError):
        return Page(
            entry=entry,
            fetched_at=fetched_at,
            http_status=outcome.status,
            error=str(outcome),
            error_reason=outcome.reason,
            retryable=outcome.transient,
        )
    return Page(
        entry=entry,
        fetched_at=fetched_at,
        final_url=outcome.final_url,
        http_status=outcome.status,
        content_type=outcome.content_type,
        charset=outcome.charset,
        body=outcome.body,
        retryable=FETCH_RETRIES.transient_status(outcome.status),
        etag=outcome.headers.get("etag"),
        last_modified=outcome.headers.get("last-modified"),
    )


def fetch_pages_now(client: HttpClient, entries: list[FeedEntry], settings: Settings) -> list[Page]:
    """Fetch the pages of a batch of entries concurrently.

    Args:
        client: The shared HTTP client (it enforces per-host politeness).
        entries: The batch.
        settings: Page size cap and worker count.

    Returns:
        One Page per entry, in order.
    """
    fetched_at = datetime.now(UTC)
    outcomes = fetch_many(
        client,
        [entry.link for entry in entries],
        max_bytes=settings.max_page_bytes,
        workers=settings.fetch_workers,
        check_robots=True,  # the client skips the check when the robots setting is off
    )
    return [
        page_from_response(entry, outcome, fetched_at)
        for entry, outcome in zip(entries, outcomes, strict=True)
    ]


def fetch_rechecks_now(client: HttpClient, rechecks: list[Recheck], settings: Settings) -> list[Page]:
    """Fetch stored articles again with conditional GET (a 304 is a Page with no body).

    Args:
        client: The shared HTTP client (per-host politeness holds for re-checks too).
        rechecks: The re-checks of one batch.
        settings: Page size cap and worker count.

    Returns:
        One Page per re-check, in order; its entry is the stored article's.
    """

    def one(recheck: Recheck) -> Response | FetchError:
        headers = {}
        if recheck.etag:
            headers["If-None-Match"] = recheck.etag
        if recheck.last_modified:
            headers["If-Modified-Since"] = recheck.last_modified
        try:
            return client.get(
                recheck.link, max_bytes=settings.max_page_bytes, headers=headers, check_robots=True
            )
        except FetchError as exc:
            return exc

    if not rechecks:
        return []
    fetched_at = datetime.now(UTC)
    workers = max(1, min(settings.fetch_workers, len(rechecks)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="recheck") as threads:
        outcomes = list(threads.map(one, rechecks))
    return [
        page_from_response(recheck_entry(recheck), outcome, fetched_at)
        for recheck, outcome in zip(rechecks, outcomes, strict=True)
    ]


def recheck_entry(recheck: Recheck) -> FeedEntry:
    """The feed entry a re-checked page is extracted under: the stored article's."""
    return FeedEntry(feed_url=recheck.feed_url or "", url=recheck.url, link=recheck.link, guid=recheck.guid)
