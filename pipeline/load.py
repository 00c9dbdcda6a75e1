"""Load, as Prefect tasks: thin wrappers over warehouse/ for the flows, plus the pure planning of a run."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

from core.records import FeedEntry, FeedFetch, FeedResult, FeedSource
from core.settings import DEMO_PORT, SettingsError
from pipeline.schedule import Progress
from tasks.feeds import settled_fetches
from warehouse.articles import known_urls, raw_html_gone, stored_page_urls
from warehouse.connection import WarehouseError, ensure_schema, open_warehouse, write_lock
from warehouse.demo import remember_port, remembered_port
from warehouse.feeds import due_feeds, save_feeds, store_fetches, waiting_feeds
from warehouse.pages import PageFilter

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- pure functions


def plan_new_entries(
    results: Sequence[FeedResult],
    known_urls: set[str],
    max_new_per_feed: int,
    taken: set[str] | None = None,
) -> list[FeedResult]:
    """Keep only entries not yet stored, each URL once per run, at most ``max_new_per_feed`` per feed.

    Args:
        results: Fetched feeds with all their entries.
        known_urls: Canonical URLs already in the warehouse (by URL or GUID).
        max_new_per_feed: Cap per feed; the rest wait for the next run.
        taken: URLs this run has already taken from earlier results; the URLs taken here are added
            to it, so that results planned group by group as they arrive take each URL once.

    Returns:
        The results with ``entries`` cut to the new ones, ``fetch.new_entries`` set and ``fetch.backlog``
        set where the cap left new entries for a later run.
    """
    if taken is None:
        taken = set()
    planned: list[FeedResult] = []
    for result in results:
        fresh: list[FeedEntry] = []
        left = False
        for entry in result.entries:
            if entry.url in taken or entry.url in known_urls:
                continue
            if len(fresh) >= max_new_per_feed:
                left = True
                continue
            taken.add(entry.url)
            fresh.append(entry)
        fetch = replace(result.fetch, new_entries=len(fresh), backlog=result.fetch.backlog or left)
        planned.append(FeedResult(fetch, tuple(fresh)))
    return planned


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``size`` items, in order.

    Args:
        items: Anything iterable.
        size: Largest batch.

    Yields:
        Lists of consecutive items.
    """
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """Read a shard ``I/N`` (this worker takes part I of N, counted from 0).

    Args:
        value: e.g. ``0/4``; None or empty for every feed.

    Returns:
        ``(I, N)``, or None for no sharding.

    Raises:
        SettingsError: Not of the form I/N with 0 <= I < N.
    """
    if not value or not value.strip():
        return None
    match = _SHARD.match(value)
    if match:
        index, count = int(match.group(1)), int(match.group(2))
        if 0 <= index < count:
            return index, count
    raise SettingsError(f"shard must be I/N with 0 <= I < N, e.g. 0/4 (got {value!r})")


def shard_of(feed_url: str, count: int) -> int:
    """The shard a feed belongs to among ``count``: a stable hash of its URL, the same on every machine.

    Args:
        feed_url: The feed's URL as stored.
        count: Number of shards.

    Returns:
        A number in [0, count).
    """
    digest = hashlib.sha256(feed_url.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(feeds: Sequence[FeedSource], shard: tuple[int, int] | None) -> list[FeedSource]:
    """Keep the feeds of one shard (all of them when there is no shard).

    Args:
        feeds: Feeds.
        shard: ``(I, N)`` from :func:`parse_shard`, or None.

    Returns:
        The feeds whose :func:`shard_of` is I, in order.
    """
    if shard is None:
        return list(feeds)
    index, count = shard
    return [feed for feed in feeds if shard_of(feed.url, count) == index]


def parse_when(value: str | None) -> datetime | None:
    """Read an ISO date or datetime (naive means UTC) from a flow parameter.

    Args:
        value: e.g. ``2024-10-01`` or ``2024-10-01T12:00:00+02:00``.

    Returns:
        An aware datetime, or None.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise WarehouseError(f"not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- Prefect tasks


@task(name="prepare-warehouse", cache_policy=NO_CACHE)
def prepare_warehouse(path: Path) -> None:
    """Create or migrate the warehouse file (a no-op inside a run scope, which migrated already).

    Args:
        path: The warehouse.
    """
    ensure_schema(path)


def demo_newsroom_port(path: Path, serving: int) -> int:
    """The loopback port of the sample newsroom's host for this run.

    Args:
        path: The warehouse (its schema current).
        serving: The port `wirehouse demo` serves it on now (the ``demo_port`` setting), remembered in
            the lake for later runs; 0: none.

    Returns:
        ``serving``, else the port the lake remembers, else :data:`~core.settings.DEMO_PORT`.
    """
    if serving:
        with write_lock(path), open_warehouse(path) as con:
            remember_port(con, serving)
        return serving
    with open_warehouse(path) as con:  # the run's attached lake, not a second one
        return remembered_port(con) or DEMO_PORT


@task(name="import-feeds", cache_policy=NO_CACHE)
def import_feeds(path: Path, feeds: list[FeedSource], source: str) -> int:
    """Store the feeds of a feed list.

    Args:
        path: The warehouse.
        feeds: Parsed feed list.
        source: Where the list came from.

    Returns:
        Number of feeds stored.
    """
    with write_lock(path), open_warehouse(path) as con:
        return save_feeds(con, feeds, source)


@task(name="list-feeds", cache_policy=NO_CACHE)
def list_feeds(
    path: Path, only: list[str] | None = None, shard: tuple[int, int] | None = None
) -> list[FeedSource]:
    """Return the feeds due this run, with their validators.

    Args:
        path: The warehouse.
        only: Restrict to these feed URLs (a ``--feeds`` list); None for every stored feed.
        shard: Only the feeds of this shard ``(I, N)`` (see :func:`shard_of`).

    Returns:
        The feeds to ingest.
    """
    logger = get_run_logger()
    now = datetime.now(UTC)
    with open_warehouse(path) as con:
        feeds = in_shard(due_feeds(con, now, only), shard)
        waiting = waiting_feeds(con, now)
    if waiting:
        logger.info("%d feeds are backing off after failures and wait for a later run", waiting)
    return feeds


def new_entries_of(
    path: Path, results: Sequence[FeedResult], max_new_per_feed: int, taken: set[str] | None = None
) -> list[FeedResult]:
    """Drop entries already stored (one warehouse query for all ``results``) or taken earlier this run.

    Args:
        path: The warehouse.
        results: Fetched feeds: all of a run's, or the group that arrived since the last call.
        max_new_per_feed: Cap on new entries per feed per run.
        taken: URLs the run took from earlier groups; updated with the ones taken here.

    Returns:
        The results with only new entries.
    """
    with open_warehouse(path) as con:
        known = known_urls(con, [e for r in results for e in r.entries])
    return plan_new_entries(results, known, max_new_per_feed, taken)


@task(name="select-new-entries", cache_policy=NO_CACHE)
def select_new_entries(path: Path, results: list[FeedResult], max_new_per_feed: int) -> list[FeedResult]:
    """Drop entries already stored, so known URLs/GUIDs are never fetched again.

    Args:
        path: The warehouse.
        results: Fetched feeds.
        max_new_per_feed: Cap on new entries per feed per run.

    Returns:
        The results with only new entries.
    """
    return new_entries_of(path, results, max_new_per_feed)


@task(name="record-fetches", cache_policy=NO_CACHE)
def record_fetches(path: Path, fetches: list[FeedFetch], run_id: str | None) -> int:
    """Store the run's feed fetch records (after its articles, so no fetch claims unstored articles).

    Args:
        path: The warehouse.
        fetches: One record per feed.
        run_id: The ingest run.

    Returns:
        Number of records stored.
    """
    with write_lock(path), open_warehouse(path) as con:
        return store_fetches(con, fetches, run_id)


_RECORD_ATTEMPTS = 5


class SettledSoFar:
    """What an interrupted run has done: its feed results in entry order, and its progress."""

    def __init__(self) -> None:
        self.results: list[FeedResult] = []
        self.progress: Progress | None = None


@contextmanager
def fetches_kept_on_interrupt(path: Path, run_id: str | None) -> Iterator[SettledSoFar]:
    """On Ctrl-C, store the feed fetches that claim no article left unstored, then let it go on.

    Batches are collected in submission order, so the stored entries are a prefix of the run's
    entries (``progress.articles_done`` of them); see :func:`settled_fetches`.

    Args:
        path: The warehouse.
        run_id: The flow run.

    Yields:
        The record the flow keeps up to date.
    """
    settled = SettledSoFar()
    try:
        yield settled
    except KeyboardInterrupt:
        stored = settled.progress.articles_done if settled.progress else 0
        fetches = settled_fetches(settled.results, stored)
        # A plain call, not a task run: the run is being interrupted. Batches still running in other
        # threads commit meanwhile, and a commit that meets one of theirs can fail; a new attempt
        # starts after it. Within the interrupt watchdog's time; a fetch record that never lands only
        # means the feed is fetched again (its articles are known by URL).
        for attempt in range(_RECORD_ATTEMPTS):
            try:
                record_fetches.fn(path, fetches, run_id)
                break
            except Exception as exc:  # any failure: the interrupt must still end the run cleanly
                logger.debug("recording fetches on interrupt failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(0.1)
        raise


@task(name="select-stored-pages", cache_policy=NO_CACHE)
def select_stored_pages(
    path: Path,
    since: str | None,
    until: str | None,
    feed_url: str | None,
    status: str | None,
    raw_html_days: int | None,
) -> tuple[list[str], int]:
    """List stored pages to re-process, and count those selected whose raw HTML retention deleted.

    Args:
        path: The warehouse.
        since: ISO date or datetime, published at or after.
        until: ISO date or datetime, published before.
        feed_url: Only this feed.
        status: Only this extraction status.
        raw_html_days: The retention setting (None: count every page whose raw HTML is gone, deleted
            under an earlier setting).

    Returns:
        Canonical URLs, and the number of selected pages that cannot be re-processed.
    """
    selection = PageFilter(parse_when(since), parse_when(until), feed_url, status)
    cutoff = datetime.now(UTC) - timedelta(days=raw_html_days) if raw_html_days is not None else None
    with open_warehouse(path) as con:
        return stored_page_urls(con, selection), raw_html_gone(con, selection, cutoff)


def removed_raw_html_line(pages: int, kept: int, raw_html_days: int | None) -> str:
    """The one line that says which selected pages cannot be re-processed, and why.

    Args:
        pages: Selected pages whose raw HTML is gone.
        kept: Selected pages that are re-processed.
        raw_html_days: The retention setting now.

    Returns:
        The line (for the run's log and the command's output).
    """
    setting = f"now {raw_html_days} days" if raw_html_days is not None else "unset now, set before"
    return (
        f"{pages} selected pages are not re-processed: their raw HTML was removed by the raw-HTML retention"
        f" setting (raw_html_days, {setting}); re-processing the other {kept}"
    )
