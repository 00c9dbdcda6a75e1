"""Stored pages to re-process: selecting them, those whose raw HTML is gone, and their Page records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from core.rawhtml import decompress_html
from core.records import FeedEntry, Page

# Stored pages to re-process, selected by publication date range, feed and extraction status (the
# parameters of PageFilter.params). A page waiting for another fetch is the ingest's to finish.
_STORED_PAGE_URLS = """
SELECT a.url FROM article_store a JOIN raw_pages r USING (url)
WHERE NOT a.retryable
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.published_at >= ?)
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.published_at < ?)
  AND (CAST(? AS VARCHAR) IS NULL OR a.feed_url = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR a.extraction_status = ?)
ORDER BY a.url
"""
# The same selection's articles whose raw HTML was stored once and is gone (the raw_html_days retention
# deleted it), fetched before the retention cutoff when one is given. Pages that never had any are left
# out: failed fetches, answers that were no HTML, and rows standing in for an article that could not be
# stored (error_row).
_RAW_HTML_GONE = """
SELECT count(*) FROM article_store a
WHERE NOT a.retryable
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.published_at >= ?)
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.published_at < ?)
  AND (CAST(? AS VARCHAR) IS NULL OR a.feed_url = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR a.extraction_status = ?)
  AND a.extraction_status NOT IN ('fetch_failed', 'not_html')
  AND NOT starts_with(coalesce(a.extraction_error, ''), 'storing failed')
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.fetched_at < ?)
  AND NOT EXISTS (SELECT 1 FROM raw_pages r WHERE r.url = a.url)
"""


@dataclass(frozen=True)
class PageFilter:
    """Which stored pages a re-processing takes (every field None: all of them).

    Attributes:
        since: Published at or after.
        until: Published before.
        feed_url: Only this feed.
        status: Only this ``extraction_status``.
    """

    since: datetime | None = None
    until: datetime | None = None
    feed_url: str | None = None
    status: str | None = None

    def params(self) -> list[object]:
        """The parameters of ``_SELECTION``, in order."""
        return [
            self.since,
            self.since,
            self.until,
            self.until,
            self.feed_url,
            self.feed_url,
            self.status,
            self.status,
        ]


_STORED_PAGES = """
SELECT a.url, a.feed_url, a.link, a.guid, a.title, a.description, a.authors, a.published_at,
       a.declared_language, r.fetched_at, a.final_url, a.http_status, a.content_type, r.charset,
       r.compression, r.html
FROM article_store a JOIN raw_pages r USING (url)
WHERE list_contains(?, a.url)
ORDER BY a.url
"""


def stored_page_urls(con: duckdb.DuckDBPyConnection, selection: PageFilter = PageFilter()) -> list[str]:
    """List articles whose raw HTML is stored, filtered for re-processing.

    Args:
        con: A connection.
        selection: Which pages.

    Returns:
        Canonical URLs, sorted.
    """
    return [row[0] for row in con.execute(_STORED_PAGE_URLS, selection.params()).fetchall()]


def raw_html_gone(
    con: duckdb.DuckDBPyConnection,
    selection: PageFilter = PageFilter(),
    fetched_before: datetime | None = None,
) -> int:
    """Count the articles :func:`stored_page_urls` selects but for their raw HTML, which retention deleted.

    Args:
        con: A connection.
        selection: Which pages.
        fetched_before: Only pages fetched before (the retention cutoff; None: any).

    Returns:
        Articles whose raw HTML was stored once and is gone.
    """
    row = con.execute(_RAW_HTML_GONE, [*selection.params(), fetched_before, fetched_before]).fetchone()
    return int(row[0]) if row else 0


def stored_pages(con: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> list[Page]:
    """Rebuild Page records from stored raw HTML (the feed entry from what the article row kept).

    Args:
        con: A connection.
        urls: Canonical URLs.

    Returns:
        Pages ready for extraction, sorted by URL.
    """
    pages = []
    for row in con.execute(_STORED_PAGES, [list(urls)]).fetchall():
        (
            url,
            feed_url,
            link,
            guid,
            title,
            description,
            authors,
            published,
            language,
            fetched_at,
            final_url,
            status,
            content_type,
            charset,
            compression,
            html,
        ) = row
        entry = FeedEntry(
            feed_url=feed_url,
            url=url,
            link=link,
            guid=guid,
            title=title,
            summary=description,
            authors=tuple(authors or ()),
            published_at=published,
            language=language,
        )
        body = decompress_html(html, compression)
        pages.append(
            Page(
                entry=entry,
                fetched_at=fetched_at,
                final_url=final_url,
                http_status=status,
                content_type=content_type,
                charset=charset,
                body=body,
            )
        )
    return pages
