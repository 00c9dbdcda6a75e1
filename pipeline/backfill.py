"""Backfill: one archive file from its records to the warehouse, as a single task (batches within it).

The pages go through the same extraction, enrichment and storage as an ingest's; an archive's page has
no feed, and its article records the file and the record it came from. A file is marked loaded only
after all its records are stored, so a killed backfill reads it again on the next run: records stored
before are recognised by their URL before extraction, and nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from core.records import ArchiveLoad, Article, BackfillSummary, FeedEntry, Page
from pipeline.load import batched
from tasks.cpu import process_in_pool
from tasks.feeds import canonical_url
from tasks.warc import (
    BROKEN_GZIP,
    UNREADABLE,
    ArchiveProblem,
    ArchiveRecord,
    ArchiveSourceError,
    host_matches,
    host_of,
    in_period,
    open_source,
    read_archive,
)
from warehouse.articles import known_urls
from warehouse.backfill import loaded_files, mark_loaded
from warehouse.connection import open_warehouse
from warehouse.staging import save_batch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """What a backfill takes from its archives (empty: everything)."""

    hosts: tuple[str, ...] = ()  # globs, or names that also take their subdomains
    languages: tuple[str, ...] = ()  # ISO 639-1 codes of the body's language
    since: datetime | None = None  # published at or after (the capture date where the page gives none)
    until: datetime | None = None  # published before

    def key(self) -> str:
        """The filters as one string, '' for none: a load with other filters has not taken everything."""
        parts = []
        if self.hosts:
            parts.append("host=" + ",".join(sorted(self.hosts)))
        if self.languages:
            parts.append("lang=" + ",".join(sorted(self.languages)))
        if self.since:
            parts.append("since=" + self.since.isoformat())
        if self.until:
            parts.append("until=" + self.until.isoformat())
        return " ".join(parts)


# --------------------------------------------------------------------------- pure functions


def page_of(record: ArchiveRecord) -> Page:
    """The page an archive record holds, as an ingest would have fetched it (no feed).

    Args:
        record: An HTML response of an archive.

    Returns:
        A page whose entry has an empty ``feed_url`` (stored as NULL).
    """
    entry = FeedEntry(feed_url="", url=canonical_url(record.url), link=record.url)
    return Page(
        entry=entry,
        fetched_at=record.warc_date or datetime.now(UTC),
        final_url=record.url,
        http_status=record.http_status,
        content_type=record.content_type,
        charset=record.charset,
        body=record.body,
    )


def wanted(article: Article, filters: Filters) -> bool:
    """Tell whether an extracted page passes the filters known only after extraction.

    Args:
        article: The extracted article (``fetched_at`` is the capture time).
        filters: The backfill's filters.

    Returns:
        True when it is to be stored.
    """
    if filters.languages and (article.language or "") not in filters.languages:
        return False
    return in_period(article.published_at or article.fetched_at, filters.since, filters.until)


def sourced(article: Article, source: str, record: ArchiveRecord) -> Article:
    """The article with its archive source recorded.

    Args:
        article: As extracted.
        source: The archive file.
        record: The record it came from.

    Returns:
        The article with ``source_file``, ``source_record`` and ``source_offset`` set.
    """
    return replace(article, source_file=source, source_record=record.record_id, source_offset=record.offset)


# --------------------------------------------------------------------------- one file


@dataclass
class _Tally:
    records: int = 0
    stored: int = 0
    skipped: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[ArchiveProblem] = field(default_factory=list)


def load_archive(
    source: str,
    pool: Executor,
    path: Path,
    filters: Filters,
    batch_size: int,
    run_id: str | None,
) -> ArchiveLoad:
    """Read one archive file and store its pages; mark it loaded when every record is stored.

    Args:
        source: The archive file (path, http(s) or s3:// URL).
        pool: The run's worker processes for extraction and enrichment.
        path: The warehouse.
        filters: What to take.
        batch_size: Records per batch.
        run_id: The backfill run.

    Returns:
        What was done; ``error`` is set (and the file not marked loaded) where it could not be read.
    """
    started = datetime.now(UTC)
    tally = _Tally()
    seen: set[str] = set()
    # Storing a batch overlaps extracting the next one (the workers need no help from this process);
    # one store at a time keeps the batches' order, and its errors surface at the next wait.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-store") as storer:
        storing: Future[list[Article]] | None = None
        try:
            with open_source(source) as stream:
                for items in batched(read_archive(stream), batch_size):
                    pages = _new_pages(items, filters, seen, path, tally)
                    articles = process_in_pool(pool, [page for page, _ in pages]) if pages else []
                    keep = [
                        sourced(article, source, record)
                        for article, (_, record) in zip(articles, pages, strict=True)
                        if wanted(article, filters)
                    ]
                    tally.skipped += len(articles) - len(keep)
                    if storing is not None:
                        _count(storing.result(), tally)
                    storing = storer.submit(save_batch, path, keep, run_id) if keep else None
            if storing is not None:
                _count(storing.result(), tally)
                storing = None
        except ArchiveSourceError as exc:
            return _load(source, tally, error=str(exc))
        except (OSError, EOFError) as exc:  # a connection or file that broke off mid-way
            return _load(source, tally, error=f"reading {source} failed: {exc}")
        finally:
            if storing is not None:  # let a running store finish (or fail) before the thread goes
                storing.exception()
    problems = tally.problems
    load = _load(source, tally)
    if tally.records == 0 and problems:
        # Not one record could be read: no archive at all (or nothing of it survived); said as an error.
        return replace(load, error=f"{source}: not a readable WARC or ARC file ({problems[0].message})")
    with open_warehouse(path) as con:
        mark_loaded(con, load, filters.key(), problems, started, datetime.now(UTC), run_id)
    return load


def _new_pages(
    items: Iterable[ArchiveRecord | ArchiveProblem],
    filters: Filters,
    seen: set[str],
    path: Path,
    tally: _Tally,
) -> list[tuple[Page, ArchiveRecord]]:
    """The batch's records worth extracting: wanted hosts, each URL once, not stored before."""
    candidates: list[tuple[Page, ArchiveRecord]] = []
    for item in items:
        if isinstance(item, ArchiveProblem):
            tally.problems.append(item)
            if item.kind not in (BROKEN_GZIP, UNREADABLE):  # a record that gave no page is still one
                tally.records += 1
            continue
        tally.records += 1
        page = page_of(item)
        if page.entry.url in seen or not host_matches(host_of(page.entry.url), filters.hosts):
            tally.skipped += 1
            continue
        seen.add(page.entry.url)
        candidates.append((page, item))
    if not candidates:
        return []
    with open_warehouse(path) as con:
        known = known_urls(con, [page.entry for page, _ in candidates])
    tally.skipped += sum(1 for page, _ in candidates if page.entry.url in known)
    return [(page, record) for page, record in candidates if page.entry.url not in known]


def _count(stored: list[Article], tally: _Tally) -> None:
    tally.stored += len(stored)
    tally.statuses.update(article.extraction_status for article in stored)


def _load(source: str, tally: _Tally, error: str | None = None) -> ArchiveLoad:
    problems = tally.problems
    return ArchiveLoad(
        source=source,
        records=tally.records,
        stored=tally.stored,
        skipped=tally.skipped,
        failed=len(problems),
        articles_by_status=dict(sorted(tally.statuses.items())),
        problems_by_kind=dict(sorted(Counter(p.kind for p in problems).items())),
        error=error,
    )


# --------------------------------------------------------------------------- Prefect task


@task(name="loaded-archives", cache_policy=NO_CACHE)
def loaded_archives(path: Path, filters: Filters) -> set[str]:
    """The archive files an earlier backfill loaded with these filters (or none): skipped by this one.

    Args:
        path: The warehouse.
        filters: This backfill's filters.

    Returns:
        Their sources, as recorded.
    """
    with open_warehouse(path) as con:
        return loaded_files(con, filters.key())


@task(name="backfill-file", task_run_name="backfill-file {number}", cache_policy=NO_CACHE)
def backfill_file(
    source: str,
    pool: Executor,
    path: Path,
    filters: Filters,
    batch_size: int,
    run_id: str | None,
    number: int,
) -> ArchiveLoad:
    """Load one archive file (bad records are counted, never raised).

    Args:
        source: The archive file.
        pool: The run's worker processes.
        path: The warehouse.
        filters: What to take.
        batch_size: Records per batch.
        run_id: The backfill run.
        number: Position of the file in the run, for the task name.

    Returns:
        What was done with the file.
    """
    load = load_archive(source, pool, path, filters, batch_size, run_id)
    if load.error:
        logger.warning("archive %s not loaded: %s", source, load.error)
    return load


def summary_lines(summary: BackfillSummary) -> list[str]:
    """The short plain-text summary the CLI prints after a backfill.

    Args:
        summary: The run's summary.

    Returns:
        Lines: files, records, articles by status, problems by kind, the warehouse and time.
    """
    files = summary.files
    loaded = [f for f in files if not f.already_loaded and not f.error]
    before = sum(f.already_loaded for f in files)
    failed = [f for f in files if f.error]
    statuses: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    for load in files:
        statuses.update(load.articles_by_status)
        problems.update(load.problems_by_kind)
    stored = sum(f.stored for f in files)
    ok = statuses.get("ok", 0)
    lines = [
        f"archives: {len(loaded)} loaded, {before} loaded before (skipped), {len(failed)} failed",
        f"records: {sum(f.records for f in files)} read, {sum(f.skipped for f in files)} skipped"
        " (stored before, repeated or filtered out)",
        f"articles stored: {stored} ({ok} extracted, {stored - ok} without text)",
    ]
    if problems:
        lines.append("problems: " + ", ".join(f"{k} {v}" for k, v in sorted(problems.items())))
    lines.append(f"warehouse: {summary.warehouse} ({summary.seconds:.1f} s)")
    return lines
