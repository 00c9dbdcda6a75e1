"""Revisions: re-checks of stored articles in an ingest run, planned and run batch by batch as tasks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from core.records import Article, Change, Page, Recheck, Removal, Revision
from core.settings import Settings
from pipeline.load import shard_of
from tasks.cpu import process_in_pool
from tasks.http import HttpClient
from tasks.pages import fetch_rechecks_now
from tasks.revisions import compare_versions, looks_removed, next_due, recheck_budget, select_rechecks
from warehouse.connection import open_warehouse, write_lock
from warehouse.revisions import due_rechecks, record_rechecks, schedule_rechecks
from warehouse.staging import save_batch

# The first version, stored as revision 0 beside the first change, describes no change itself.
FIRST_VERSION = Change(
    changed_title=False, words_added=0, words_removed=0, summary="first version", is_correction=False
)
# What a run's report counts of its re-checks.
RECHECK_COUNTS = ("rechecked", "unchanged", "revisions", "corrections", "removed", "failed")


def first_rechecks(
    pages: Sequence[Page], articles: Sequence[Article], ages: Sequence[float]
) -> list[Recheck]:
    """The first re-check of each newly extracted article (none when re-checks are off).

    Args:
        pages: A batch's pages (their validators).
        articles: What was stored of them.
        ages: The ``recheck_after`` setting.

    Returns:
        One re-check per article extracted with text.
    """
    if not ages:
        return []
    validators = {page.entry.url: (page.etag, page.last_modified) for page in pages}
    rechecks = []
    for article in articles:
        if article.extraction_status != "ok" or not article.text:
            continue
        due = next_due(article.fetched_at, 0, ages, article.fetched_at)
        if due is None:
            continue
        etag, modified = validators.get(article.url, (None, None))
        rechecks.append(
            Recheck(
                url=article.url,
                feed_url=article.feed_url or None,
                link=article.link,
                guid=article.guid,
                first_seen_at=article.fetched_at,
                checks=0,
                due_at=due,
                etag=etag,
                last_modified=modified,
                title=article.title,
                text=article.text,
                fingerprint=article.fingerprint,
                revisions=0,
            )
        )
    return rechecks


def schedule_first_rechecks(
    path: Path, pages: Sequence[Page], articles: Sequence[Article], settings: Settings
) -> int:
    """Store the first re-checks of a batch's new articles (an append; no lock needed).

    Returns:
        Re-checks scheduled.
    """
    rechecks = first_rechecks(pages, articles, settings.recheck_after)
    if not rechecks:
        return 0
    with open_warehouse(path) as con:
        return schedule_rechecks(con, rechecks)


@task(name="plan-rechecks", cache_policy=NO_CACHE)
def plan_rechecks(
    path: Path,
    settings: Settings,
    new_entries: int,
    run_started: datetime,
    shard: tuple[int, int] | None = None,
) -> list[Recheck]:
    """The re-checks this run makes: due ones of its shard, within its budget and the cap per host.

    Args:
        path: The warehouse.
        settings: ``recheck_share``, ``recheck_min``, ``recheck_per_host``.
        new_entries: The run's new articles (the budget grows with them).
        run_started: When the run started: only re-checks due by then (never one of its own articles,
            however short the first age).
        shard: ``(I, N)``: only re-checks of this shard's feeds (as feeds are sharded).

    Returns:
        The re-checks, longest waiting first.
    """
    if not settings.recheck_after:
        return []
    with open_warehouse(path) as con:
        due = due_rechecks(con, run_started)
    if shard is not None:
        index, count = shard
        due = [r for r in due if shard_of(r.feed_url or r.url, count) == index]
    budget = recheck_budget(new_entries, settings.recheck_share, settings.recheck_min)
    return select_rechecks(due, budget, settings.recheck_per_host)


def run_recheck_batch(
    client: HttpClient,
    pool: Executor,
    path: Path,
    rechecks: list[Recheck],
    settings: Settings,
    run_id: str | None,
) -> dict[str, int]:
    """Fetch a batch of stored articles again, and store what changed.

    A changed version is extracted and enriched like any page and replaces the article's row (so
    search and stories follow it); the revisions table keeps each version. 304 or noise only moves
    the article to its next age; 404/410 or a redirect to a section page marks it removed.

    Args:
        client: The shared HTTP client.
        pool: The run's worker processes.
        path: The warehouse.
        rechecks: The batch.
        settings: Run settings.
        run_id: The ingest run.

    Returns:
        Counts by :data:`RECHECK_COUNTS`.
    """
    counts: Counter[str] = Counter(rechecked=len(rechecks))
    pages = fetch_rechecks_now(client, rechecks, settings)
    now = datetime.now(UTC)
    by_url = {r.url: r for r in rechecks}
    removals: list[Removal] = []
    follow_ups: list[Recheck] = []
    to_extract: list[Page] = []
    for recheck, page in zip(rechecks, pages, strict=True):
        if looks_removed(recheck.link, page.http_status, page.final_url):
            removals.append(Removal(recheck.url, now, page.http_status, page.final_url))
            counts["removed"] += 1
        elif page.http_status == 200 and page.body:
            to_extract.append(page)
        else:
            counts["unchanged" if page.http_status == 304 else "failed"] += 1
            follow_ups += _next(recheck, now, settings, page)
    revisions: list[Revision] = []
    changed: list[Article] = []
    for article in process_in_pool(pool, to_extract) if to_extract else []:
        recheck = by_url[article.url]
        page = next(p for p in to_extract if p.entry.url == article.url)
        change = compare_versions(
            recheck.title, recheck.text, article.title, article.text, recheck.fingerprint, article.fingerprint
        )
        if change is None or article.extraction_status != "ok":
            counts["unchanged"] += 1
            follow_ups += _next(recheck, now, settings, page)
            continue
        if recheck.revisions == 0:
            revisions.append(
                Revision(recheck.url, 0, recheck.first_seen_at, recheck.title, recheck.text, FIRST_VERSION)
            )
        number = recheck.revisions + 1
        revisions.append(
            Revision(recheck.url, number, article.fetched_at, article.title, article.text, change)
        )
        counts["revisions"] += 1
        counts["corrections"] += change.is_correction
        changed.append(article)
        latest = replace(
            recheck, title=article.title, text=article.text, fingerprint=article.fingerprint, revisions=number
        )
        follow_ups += _next(latest, now, settings, page)
    # The versions first, then the article's row: a kill in between leaves the row one version behind
    # (the revisions view has it), never a revision counted twice.
    with write_lock(path, settings.lock_timeout), open_warehouse(path) as con:
        record_rechecks(con, list(by_url), follow_ups, revisions, removals, run_id)
    if changed:
        save_batch(path, changed, run_id, replace=True)
    return {name: counts[name] for name in RECHECK_COUNTS}


def _next(recheck: Recheck, now: datetime, settings: Settings, page: Page) -> list[Recheck]:
    """The article's next re-check after this one (none past its last age), with the answer's validators."""
    due = next_due(recheck.first_seen_at, recheck.checks + 1, settings.recheck_after, now)
    if due is None:
        return []
    etag, modified = (page.etag, page.last_modified) if page.http_status in (200, 304) else (None, None)
    return [
        replace(
            recheck,
            checks=recheck.checks + 1,
            due_at=due,
            etag=etag or recheck.etag,
            last_modified=modified or recheck.last_modified,
        )
    ]


@task(name="recheck-batch", task_run_name="recheck-batch {batch_no}", cache_policy=NO_CACHE)
def recheck_batch(
    client: HttpClient,
    pool: Executor,
    path: Path,
    rechecks: list[Recheck],
    settings: Settings,
    run_id: str | None,
    batch_no: int,
) -> dict[str, int]:
    """One batch of re-checks, from the conditional GET to the warehouse.

    Args:
        client: The shared HTTP client.
        pool: The run's worker processes.
        path: The warehouse.
        rechecks: The batch.
        settings: Run settings.
        run_id: The ingest run.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        Counts by :data:`RECHECK_COUNTS`.
    """
    return run_recheck_batch(client, pool, path, rechecks, settings, run_id)
