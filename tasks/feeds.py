"""Feeds: the Prefect tasks that fetch feeds and read feed lists; re-exports the feed modules' names.

URLs are tasks.urls, parsing tasks.feedparse, fetching tasks.feedfetch, feed lists tasks.feedlists.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prefect import State, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.runtime import task_run
from prefect.states import Failed

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
