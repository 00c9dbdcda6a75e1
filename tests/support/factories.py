"""Small builders for test records, so each test states only what matters to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.records import Article


def make_article(text: str | None = None, **fields: Any) -> Article:
    """An extracted article with placeholder identity fields; ``fields`` override anything."""
    base: dict[str, Any] = {
        "url": "u",
        "feed_url": "f",
        "link": "u",
        "guid": None,
        "title": "t",
        "text": text,
        "fetched_at": datetime.now(UTC),
        "extraction_status": "ok",
    }
    return Article(**{**base, **fields})
