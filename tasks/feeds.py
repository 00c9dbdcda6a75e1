"""Feeds: the Prefect tasks that fetch feeds and read feed lists; re-exports the feed modules' names.

URLs are tasks.urls, parsing tasks.feedparse, fetching tasks.feedfetch, feed lists tasks.feedlists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.runtime import task_run

from core.records import FeedResult, FeedSource
from core.settings import Settings
from tasks.feedfetch import conditional_headers as conditional_headers
from tasks.feedfetch import failed_feed_result as failed_feed_result
from tasks.feedfetch import feed_result_from_response as feed_result_from_response
from tasks.feedfetch import fetch_feed_result as fetch_feed_result
from tasks.feedfetch import no_feed_fetched_message as no_feed_fetched_message
from tasks.feedfetch import read_feed_list_source as read_feed_list_source
from tasks.feedfetch import settled_fetches as settled_fetches
from tasks.feedfetch import sitemap_entry as sitemap_entry
from tasks.feedfetch import sitemap_result as sitemap_result
from tasks.feedfetch import sitemap_since as sitemap_since
from tasks.feedlists import FeedListError as FeedListError
from tasks.feedlists import parse_feed_list as parse_feed_list
from tasks.feedlists import parse_feed_toml as parse_feed_toml
from tasks.feedlists import parse_opml as parse_opml
from tasks.feedparse import NotAFeedError as NotAFeedError
from tasks.feedparse import _entry_link as _entry_link
from tasks.feedparse import construct_text as construct_text
from tasks.feedparse import feed_kind as feed_kind
from tasks.feedparse import html_to_text as html_to_text
from tasks.feedparse import parse_feed as parse_feed
from tasks.feedparse import parse_json_feed as parse_json_feed
from tasks.health import BACKOFF_BASE as BACKOFF_BASE
from tasks.health import BACKOFF_CAP as BACKOFF_CAP
from tasks.health import RETRY_AFTER_CAP as RETRY_AFTER_CAP
from tasks.health import next_feed_health as next_feed_health
from tasks.http import FetchError, HttpClient
from tasks.urls import canonical_url as canonical_url


def is_transient(error: BaseException | None) -> bool:
    """Tell whether a feed task's exception deserves a retry.

    Args:
        error: What the attempt raised (None: it did not raise).

    Returns:
        True for transient fetch errors.
    """
    return isinstance(error, FetchError) and error.transient


# task, and with 16 feeds at once those requests queue up behind each other (seconds per feed).
@task(
    name="fetch-feed",
    task_run_name="fetch-feed {feed.url}",
    retry_condition_fn=lambda _task, _run, state: is_transient(state_exception(state)),
    cache_policy=NO_CACHE,
)
def fetch_feed(client: HttpClient, feed: FeedSource, settings: Settings) -> FeedResult:
    """Fetch one feed; transient errors are retried by Prefect, the last attempt records the failure.

    Args:
        client: The shared HTTP client.
        feed: The feed.
        settings: Run settings (``feed_retries`` must match the task's retries).

    Returns:
        Its fetch record and entries.
    """
    started = datetime.now(UTC)
    try:
        return fetch_feed_result(client, feed, settings)
    except FetchError as exc:
        if task_run.run_count <= settings.feed_retries:
            raise  # Prefect tries again after retry_delay
        # Out of retries: a recorded failure, not a failed task (one bad feed never fails the run).
        return failed_feed_result(feed, exc, started)


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
