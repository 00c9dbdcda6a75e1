"""Golden files for the bundled sample newsroom: one expected JSON per article page.

Each page of ``wirehouse/sample_newsroom/`` is extracted and enriched as an ingest does (from a link-only
feed entry, fetched at a fixed time, on the base URL the demo serves on), and the article's fields are
compared with ``tests/fixtures/golden/<lang>/<page>.json``. Needs nothing outside the project.

Regenerate after a deliberate change, then review the diff::

    .venv/bin/python -m tests.support.golden --update
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NEWSROOM = ROOT / "wirehouse" / "sample_newsroom"
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
BASE = "http://127.0.0.1:8765"  # the demo's port; pages write absolute URLs as {{BASE}}/...
FETCHED_AT = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)  # after every page's publication (8-14 March 2025)
# What the golden files hold: the stored article's fields, without bytes, run bookkeeping and the raw page.
SKIPPED = frozenset({"raw_html", "raw_html_zlib", "fingerprint", "story_id", "fetched_at", "retryable"})


def article_pages() -> list[Path]:
    """The sample newsroom's article pages (not its index or feeds), in a stable order."""
    return sorted(p for p in NEWSROOM.glob("*/*.html") if p.parent.name != "feeds")


def golden_path(page: Path) -> Path:
    """Where a page's expected JSON lives."""
    return GOLDEN / page.parent.name / f"{page.stem}.json"


def render(page: Path) -> dict[str, Any]:
    """Extract, validate and enrich one sample page as an ingest does; the article as plain JSON values."""
    from core.records import FeedEntry, Page
    from tasks.cpu import process_page

    url = f"{BASE}/{page.parent.name}/{page.name}"
    body = page.read_bytes().replace(b"{{BASE}}", BASE.encode())
    fetched = Page(
        entry=FeedEntry(feed_url=f"{BASE}/feeds/sample.rss", url=url, link=url),
        fetched_at=FETCHED_AT,
        final_url=url,
        http_status=200,
        content_type="text/html",
        body=body,
        charset="utf-8",
    )
    article = process_page(fetched)  # extract, validate, enrich: what a batch does with each page
    fields = {f.name: getattr(article, f.name) for f in dataclasses.fields(article) if f.name not in SKIPPED}
    return json.loads(json.dumps(fields, default=_plain, ensure_ascii=False))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def write(page: Path) -> Path:
    """Write a page's golden file from the current code."""
    path = golden_path(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(render(page), ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Check the golden files (default) or rewrite them (``--update``); exit 1 where one differs."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--update", action="store_true", help="rewrite every golden file from the current code"
    )
    args = parser.parse_args(argv)
    differ = []
    for page in article_pages():
        if args.update:
            print(f"wrote {write(page).relative_to(ROOT)}")
            continue
        path = golden_path(page)
        if not path.is_file() or json.loads(path.read_text("utf-8")) != render(page):
            differ.append(path.relative_to(ROOT))
    for path in differ:
        print(f"differs: {path}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
