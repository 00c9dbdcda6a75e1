"""The Arrow tables a batch is written from: articles, raw pages and quotes, column for column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from core.rawhtml import codec_of, compress_html
from core.records import Article

_TS = pa.timestamp("us", tz="UTC")


_STRINGS = pa.list_(pa.string())


ARTICLE_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("feed_url", pa.string()),
        ("link", pa.string()),
        ("guid", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("description", pa.string()),
        ("authors", _STRINGS),
        ("published_at", _TS),
        ("modified_at", _TS),
        ("site_name", pa.string()),
        ("categories", _STRINGS),
        ("tags", _STRINGS),
        ("image", pa.string()),
        ("declared_language", pa.string()),
        ("language", pa.string()),
        ("language_confidence", pa.float64()),
        ("word_count", pa.int32()),
        ("reading_time_min", pa.float64()),
        ("content_hash", pa.string()),
        ("fetched_at", _TS),
        ("http_status", pa.int32()),
        ("final_url", pa.string()),
        ("content_type", pa.string()),
        ("extraction_status", pa.string()),
        ("extraction_error", pa.string()),
        ("agencies", _STRINGS),
        ("dateline_place", pa.string()),
        ("title_language", pa.string()),
        ("keywords", _STRINGS),
        ("paragraph_count", pa.int32()),
        ("paywalled", pa.bool_()),
        ("fingerprint", pa.binary()),
        ("story_id", pa.string()),
        ("retryable", pa.bool_()),
        ("run_id", pa.string()),
        ("source_file", pa.string()),
        ("source_record", pa.string()),
        ("source_offset", pa.int64()),
        ("seo_title", pa.string()),  # 011
        ("page_type", pa.string()),  # 011
        ("extraction_confidence", pa.float64()),  # 011
    ]
)


QUOTE_SCHEMA = pa.schema(
    [
        ("article_url", pa.string()),
        ("ordinal", pa.int32()),
        ("quote", pa.string()),
        ("start_offset", pa.int32()),
        ("end_offset", pa.int32()),
    ]
)


RAW_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("fetched_at", _TS),
        ("charset", pa.string()),
        ("compression", pa.string()),
        ("html", pa.binary()),
    ]
)


def articles_table(articles: Sequence[Article], run_id: str | None) -> pa.Table:
    """Build the Arrow table for a batch of articles (one bulk insert instead of row-by-row).

    Args:
        articles: The batch.
        run_id: The ingest run that produced it.

    Returns:
        A table with ARTICLE_SCHEMA.
    """
    columns: dict[str, list[Any]] = {name: [] for name in ARTICLE_SCHEMA.names}
    for article in articles:
        for name in ARTICLE_SCHEMA.names:
            value = run_id if name == "run_id" else getattr(article, name)
            if name == "feed_url" and not value:
                value = None  # a backfilled page has no feed
            columns[name].append(list(value) if isinstance(value, tuple) else value)
    return pa.table(columns, schema=ARTICLE_SCHEMA)


def raw_pages_table(articles: Sequence[Article]) -> pa.Table:
    """Build the Arrow table of compressed raw HTML for the articles that have it.

    Args:
        articles: The batch (raw HTML as served, or already compressed by a worker).

    Returns:
        A table with RAW_SCHEMA (HTML compressed by core.rawhtml, each row labelled with its codec).
    """
    kept = [a for a in articles if a.raw_html_zlib or a.raw_html]
    html = [a.raw_html_zlib or compress_html(a.raw_html or b"") for a in kept]
    return pa.table(
        {
            "url": [a.url for a in kept],
            "fetched_at": [a.fetched_at for a in kept],
            "charset": [a.charset for a in kept],
            # By what each row holds: a batch an older wirehouse staged carries zlib streams.
            "compression": [codec_of(blob) for blob in html],
            "html": html,
        },
        schema=RAW_SCHEMA,
    )


def quotes_table(articles: Sequence[Article]) -> pa.Table:
    """Build the Arrow table of the direct quotes of a batch.

    Args:
        articles: The batch.

    Returns:
        A table with QUOTE_SCHEMA, one row per quote.
    """
    rows = [(a.url, q) for a in articles for q in a.quotes]
    return pa.table(
        {
            "article_url": [url for url, _ in rows],
            "ordinal": [q.ordinal for _, q in rows],
            "quote": [q.text for _, q in rows],
            "start_offset": [q.start for _, q in rows],
            "end_offset": [q.end for _, q in rows],
        },
        schema=QUOTE_SCHEMA,
    )
