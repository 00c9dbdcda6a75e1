"""Tests of tasks/metadata/, one module each; shared page helpers."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from trafilatura.utils import load_html

FETCHED = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def tree(head: str, body: str = "<p>Text.</p>") -> Any:
    """A parsed page with the given head and body."""
    return load_html(f"<html lang='de'><head>{head}</head><body>{body}</body></html>")
