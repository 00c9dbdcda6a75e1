"""The SQL half of export and stats: the public views as Parquet, and article counts."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from core.errors import first_line
from tasks.confidence import LOW_CONFIDENCE
from tasks.export import EXPORT_MARKER, ExportError, ExportStats, check_export_target, export_marker
from warehouse.datafiles import find_orphans

# Partitions by publication day (else fetch day) in UTC, whatever the session's TimeZone, and by
# language. DuckDB percent-encodes partition values ("../x" becomes the folder "language=..%2Fx")
# so no value can name a path outside the export. A missing language is partitioned as 'und' (as the
# enrichment says it), because pandas cannot read a partition column holding NULL among its values.
_COPY_ARTICLES = """
COPY (
    SELECT * REPLACE (coalesce(language, 'und') AS language),
           strftime(coalesce(published_at, fetched_at) AT TIME ZONE 'UTC', '%Y-%m-%d') AS date
    FROM articles
    ORDER BY coalesce(published_at, fetched_at), url
) TO ? (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, language), FILENAME_PATTERN 'articles_{i}')
"""


_COPY_QUOTES = """
COPY (SELECT * FROM quotes ORDER BY article_url, ordinal) TO ? (FORMAT parquet, COMPRESSION zstd)
"""


_COPY_STORIES = """
COPY (SELECT * FROM stories ORDER BY first_seen, story_id) TO ? (FORMAT parquet, COMPRESSION zstd)
"""


_STATS_FEEDS = """
SELECT a.feed_url, f.title, count(*) AS articles,
       count(*) FILTER (WHERE a.extraction_status = 'ok') AS ok,
       count(*) FILTER (WHERE a.extraction_status <> 'ok') AS failed,
       max(a.published_at) AS last_published, max(a.ingested_at) AS last_ingested
FROM articles a LEFT JOIN feeds f ON f.feed_url = a.feed_url
GROUP BY a.feed_url, f.title
ORDER BY articles DESC, a.feed_url
"""


_STATS_LANGUAGES = """
SELECT coalesce(language, 'und') AS language, count(*) AS articles,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS share_pct
FROM articles
WHERE extraction_status = 'ok'
GROUP BY 1
ORDER BY articles DESC, language
"""


# Every day of the window, also those without articles; days in UTC.
# What the pages are, and how many extracted ones have a body worth a look (confidence below the bound).
_STATS_PAGE_TYPES = """
SELECT coalesce(page_type, 'unknown') AS page_type, count(*) AS articles,
       count(*) FILTER (WHERE extraction_status = 'ok') AS ok,
       count(*) FILTER (WHERE extraction_status = 'ok' AND extraction_confidence < ?) AS low_confidence
FROM articles
GROUP BY 1
ORDER BY articles DESC, page_type
"""


_STATS_DAYS = """
WITH days AS (SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY))::DATE AS day),
counted AS (
    SELECT (coalesce(published_at, fetched_at) AT TIME ZONE 'UTC')::DATE AS day, count(*) AS articles,
           count(*) FILTER (WHERE extraction_status = 'ok') AS ok
    FROM articles
    WHERE coalesce(published_at, fetched_at) >= ?
    GROUP BY 1
)
SELECT d.day, coalesce(c.articles, 0) AS articles, coalesce(c.ok, 0) AS ok
FROM days d LEFT JOIN counted c USING (day)
ORDER BY d.day DESC
"""


# Raw HTML on disk: the live Parquet files of raw_pages (with their delete files), per stored page. The
# catalog knows the sizes: no HTML is read. Rows a small commit left inlined in the catalog have no file
# until the maintenance flow flushes them.
_STATS_RAW = """
WITH files AS (
    SELECT coalesce(sum(data_file_size_bytes), 0) + coalesce(sum(delete_file_size_bytes), 0) AS bytes
    FROM ducklake_list_files('news', 'raw_pages')
), pages AS (SELECT count(*) AS pages FROM raw_pages)
SELECT pages, bytes, CASE WHEN pages > 0 THEN CAST(round(bytes / pages) AS BIGINT) END FROM pages, files
"""


_CURRENT_SNAPSHOT = "SELECT id FROM news.current_snapshot()"


def _copied(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    row = con.execute(sql, [str(path)]).fetchone()
    return int(row[0]) if row else 0


def _snapshot(con: duckdb.DuckDBPyConnection) -> int | None:
    row = con.execute(_CURRENT_SNAPSHOT).fetchone()
    return int(row[0]) if row else None


def _swap_into_place(staging: Path, target: Path, previous: Path) -> None:
    """Rename the finished export to ``target``; an earlier export there is moved aside first."""
    if target.is_dir() and any(target.iterdir()):
        target.rename(previous)
        try:
            staging.rename(target)
        except OSError:
            previous.rename(target)  # the earlier export stays where it was
            raise
        return
    if target.is_dir():
        staging.chmod(target.stat().st_mode & 0o7777)  # the user's empty folder keeps its mode
    # rename(2) replaces an empty folder in one step: a kill before it leaves only hidden folders.
    staging.rename(target)


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> ExportStats:
    """Write the articles, quotes and stories as Parquet, one consistent snapshot, replacing an older export.

    Layout: ``articles/date=YYYY-MM-DD/language=xx/articles_0.parquet`` (Hive partitions, read with
    ``read_parquet('DIR/articles/**/*.parquet', hive_partitioning = true)`` or
    ``pyarrow.dataset.dataset('DIR/articles', partitioning='hive')``), ``quotes.parquet``,
    ``stories.parquet`` and the marker ``_wirehouse_export.json``. The export is written to a hidden
    folder beside ``out_dir`` and renamed to it, so a reader (or a kill) never meets half an export.
    ``out_dir`` may be missing, empty or an earlier export; anything else is refused before any work.

    Args:
        con: A connection (read-only is fine).
        out_dir: Where to write.

    Returns:
        Rows and files written.

    Raises:
        ExportRefusedError: ``out_dir`` holds files an export did not write.
        ExportError: The folder cannot be written.
    """
    started = time.perf_counter()
    check_export_target(out_dir)
    # The real folder: renaming onto a symlink would replace the link, not the folder it names.
    target = out_dir.resolve()
    token = uuid.uuid4().hex
    staging = target.parent / f".{target.name}.wirehouse-export-{token}"
    previous = target.parent / f".{target.name}.wirehouse-previous-{token}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise ExportError(f"cannot write to {target.parent}: {exc.strerror}") from exc
    try:
        con.execute("BEGIN TRANSACTION")  # one snapshot for all three
        try:
            articles = _copied(con, _COPY_ARTICLES, staging / "articles")
            quotes = _copied(con, _COPY_QUOTES, staging / "quotes.parquet")
            stories = _copied(con, _COPY_STORIES, staging / "stories.parquet")
            snapshot = _snapshot(con)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        (staging / "articles").mkdir(exist_ok=True)  # no rows: no folder written
        files = sorted(staging.rglob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        stats = ExportStats(out_dir, articles, quotes, stories, len(files), size, 0.0)
        (staging / EXPORT_MARKER).write_text(export_marker(stats, snapshot), encoding="utf-8")
        _swap_into_place(staging, target, previous)
    except duckdb.Error as exc:
        raise ExportError(f"export failed: {first_line(exc)}") from exc
    except OSError as exc:
        raise ExportError(f"cannot write to {out_dir}: {exc.strerror}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)
    return ExportStats(out_dir, articles, quotes, stories, len(files), size, time.perf_counter() - started)


def warehouse_stats(
    con: duckdb.DuckDBPyConnection, *, days: int = 14, today: date | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Count articles by feed, language (extracted ones) and day, orphaned files and raw HTML bytes, for `wirehouse stats`.

    Args:
        con: A connection (read-only is fine).
        days: Days in the by-day table, ending today (UTC).
        today: The last day (default: today in UTC).

    Returns:
        ``feeds``, ``languages``, ``days``, ``page_types`` (with pages of low extraction confidence) and
        ``files`` rows; column names in STATS_COLUMNS. ``files``
        counts the Parquet files in the data folder that no commit references (left by killed runs,
        or being written by a running one); ``raw`` the pages with raw HTML, the bytes of raw_pages'
        files and bytes per page.
    """
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    orphans = find_orphans(con)
    return {
        "feeds": [tuple(r) for r in con.execute(_STATS_FEEDS).fetchall()],
        "languages": [tuple(r) for r in con.execute(_STATS_LANGUAGES).fetchall()],
        "days": [tuple(r) for r in con.execute(_STATS_DAYS, [first, last, since]).fetchall()],
        "page_types": [tuple(r) for r in con.execute(_STATS_PAGE_TYPES, [LOW_CONFIDENCE]).fetchall()],
        # "files" stays last: a script reading the output's last line finds the orphans there as before.
        "raw": [tuple(r) for r in con.execute(_STATS_RAW).fetchall()],
        "files": [(len(orphans), sum(f.size for f in orphans))],
    }
