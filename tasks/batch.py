"""Batch: one batch of new entries from page download to the warehouse, as a single task.

Pages, articles and raw HTML stay inside this task: a Prefect flow keeps every task result it has
seen for the whole run, so passing them between tasks would make memory grow with the run's size.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from tasks.cpu import process_in_pool
from tasks.http import HttpClient
from tasks.pages import fetch_pages_now
from tasks.records import Article, FeedEntry
from tasks.settings import Settings
from tasks.validate import MAX_DESCRIPTION, clean_text
from warehouse.articles import store_articles, stored_pages
from warehouse.connection import WarehouseError, WarehouseMemoryError, lake_of, open_warehouse

logger = logging.getLogger(__name__)


def error_row(article: Article, exc: BaseException) -> Article:
    """The row that stands in for an article that could not be stored: identity, status ``error``, why.

    Args:
        article: The article whose row the warehouse refused.
        exc: What storing it raised.

    Returns:
        A minimal article (no text, metadata or raw HTML), not retried by later runs.
    """
    return Article(
        url=article.url,
        feed_url=article.feed_url,
        link=article.link,
        guid=article.guid,
        title=None,
        text=None,
        fetched_at=article.fetched_at,
        extraction_status="error",
        extraction_error=clean_text(f"storing failed: {type(exc).__name__}: {exc}", MAX_DESCRIPTION),
        http_status=article.http_status,
    )


def store_isolating(store: Callable[[list[Article]], object], articles: list[Article]) -> list[Article]:
    """Store a batch; if storing raises, split it in halves until the offending article is found.

    Each part is stored in its own transaction, so the rest of the batch lands; the offending article is
    stored as an :func:`error_row`. Errors that halving cannot help (out of memory, a busy or broken
    warehouse) are raised as they are.

    Args:
        store: Stores a list of articles in one transaction (all or nothing).
        articles: The batch.

    Returns:
        The articles as stored (offenders replaced by their error rows), in order.
    """
    try:
        store(articles)
        return articles
    except WarehouseError:
        raise
    except Exception as exc:
        if len(articles) == 1:
            logger.warning("article %s could not be stored (%s); stored as an error", articles[0].url, exc)
            stand_in = error_row(articles[0], exc)
            store([stand_in])  # if even this fails the warehouse itself is broken: raise
            return [stand_in]
    middle = len(articles) // 2
    return store_isolating(store, articles[:middle]) + store_isolating(store, articles[middle:])


def run_batch(
    client: HttpClient,
    pool: Executor,
    path: Path,
    entries: list[FeedEntry],
    settings: Settings,
    run_id: str | None,
) -> dict[str, int]:
    """Fetch, extract, enrich and store one batch of entries.

    Args:
        client: The shared HTTP client.
        pool: The run's worker processes for extraction and enrichment.
        path: The warehouse.
        entries: The batch.
        settings: Run settings.
        run_id: The ingest run.

    Returns:
        Articles stored, counted by ``extraction_status``.
    """
    pages = fetch_pages_now(client, entries, settings)
    articles = process_in_pool(pool, pages)
    try:
        with open_warehouse(path) as con:
            search_dir = lake_of(path).search_dir
            articles = store_isolating(
                lambda part: store_articles(con, part, run_id, search_dir=search_dir), articles
            )
    except WarehouseMemoryError as exc:
        # The transaction rolled back: nothing of the batch is stored, and the next run takes it again.
        raise WarehouseMemoryError(
            f"the warehouse needed more than WIREHOUSE_WAREHOUSE_MEMORY_MB={settings.warehouse_memory_mb} "
            f"MiB; raise it (0: DuckDB's default): {exc}"
        ) from exc
    return dict(Counter(article.extraction_status for article in articles))


@task(
    name="ingest-batch",
    task_run_name="ingest-batch {batch_no}",
    cache_policy=NO_CACHE,
)
def ingest_batch(
    client: HttpClient,
    pool: Executor,
    path: Path,
    entries: list[FeedEntry],
    settings: Settings,
    run_id: str | None,
    batch_no: int,
) -> dict[str, int]:
    """One batch from page download to the warehouse (per-page failures are recorded, not raised).

    Args:
        client: The shared HTTP client.
        pool: The run's worker processes.
        path: The warehouse.
        entries: The batch.
        settings: Run settings.
        run_id: The ingest run.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        Articles stored, counted by ``extraction_status``.
    """
    return run_batch(client, pool, path, entries, settings, run_id)


def reprocess_urls(pool: Executor, path: Path, urls: list[str], run_id: str | None) -> dict[str, int]:
    """Re-extract and re-enrich stored pages with the current code, replacing their rows.

    Args:
        pool: The run's worker processes.
        path: The warehouse.
        urls: Canonical URLs whose raw HTML is stored.
        run_id: The reprocess run.

    Returns:
        Articles rewritten, counted by ``extraction_status``.
    """
    with open_warehouse(path) as con:
        pages = stored_pages(con, urls)
    articles = process_in_pool(pool, pages)
    with open_warehouse(path) as con:
        search_dir = lake_of(path).search_dir
        articles = store_isolating(
            lambda part: store_articles(con, part, run_id, replace=True, search_dir=search_dir), articles
        )
    return dict(Counter(article.extraction_status for article in articles))


@task(name="reprocess-batch", task_run_name="reprocess-batch {batch_no}", cache_policy=NO_CACHE)
def reprocess_batch(
    pool: Executor, path: Path, urls: list[str], run_id: str | None, batch_no: int
) -> dict[str, int]:
    """Re-process one batch of stored pages (nothing is fetched).

    Args:
        pool: The run's worker processes.
        path: The warehouse.
        urls: Canonical URLs.
        run_id: The reprocess run.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        Articles rewritten, counted by ``extraction_status``.
    """
    return reprocess_urls(pool, path, urls, run_id)
