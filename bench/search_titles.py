"""Search by own title: the rank each extracted corpus article gets when its title is the query.

Extracts the kill trial's 1,030 corpus pages (../shared/corpora: the open web, then the world and German
news folders) with the pipeline's own ``process_page``, indexes the extracted ones, and searches each
title without ``--lang``, as ``bench.kill_trial`` checks. No lake and no server: the index alone, ranked
as ``search`` ranks it (without the lake's columns and snippets). The extraction (the slow part, a few
minutes) is cached in a JSON-lines file; later runs take seconds.

    python -m bench.search_titles [--cache /tmp/wirehouse-search-titles.jsonl] [--show 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.kill_trial import CORPORA, PAGES
from core.records import Article, FeedEntry, Page
from tasks.search import query_terms
from tests.support.corpus_site import _page_bytes, corpus_pages
from warehouse.search import index_articles, ranked

BASE = "http://127.0.0.1:8000"  # what the trial's URLs look like; extraction sees the URL
LIMIT = 200  # the kill trial's --limit


def extract(cache: Path) -> list[dict[str, str | None]]:
    """Every extracted page as (url, title, text, language), read from ``cache`` when it is there."""
    if cache.is_file():
        with cache.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]
    from tasks.cpu import process_page

    pages = [
        *corpus_pages(CORPORA / "trafilatura-eval", prefix="web"),
        *corpus_pages(CORPORA / "fundus-world", prefix="world"),
        *corpus_pages(CORPORA / "fundus", prefix="news"),
    ][:PAGES]
    rows = []
    for n, corpus_page in enumerate(pages):
        url = BASE + corpus_page.path
        page = Page(
            entry=FeedEntry(feed_url=BASE + "/feed", url=url, link=url),
            fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
            final_url=url,
            http_status=200,
            content_type="text/html",
            body=_page_bytes(corpus_page.file),
        )
        article = process_page(page)
        if article.extraction_status == "ok":
            rows.append(
                {"url": url, "title": article.title, "text": article.text, "language": article.language}
            )
        if n % 100 == 0:
            print(f"extracted {n} of {len(pages)}", file=sys.stderr, flush=True)
    with cache.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return rows


def _article(row: dict[str, str | None]) -> Article:
    return Article(
        url=str(row["url"]),
        feed_url=BASE + "/feed",
        link=str(row["url"]),
        guid=None,
        title=row["title"],
        text=row["text"],
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        extraction_status="ok",
        language=row["language"],
    )


def ranks(rows: list[dict[str, str | None]]) -> list[tuple[int | None, bool, dict[str, str | None]]]:
    """Each titled row's rank (1-based; None past LIMIT) when its own title is searched without a language.

    The flag tells that only articles with the very same title rank above it (pages of one site).
    """
    titles = {r["url"]: r["title"] for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "search"
        index_articles(folder, [_article(r) for r in rows])
        found = []
        for row in rows:
            if not row["title"]:
                continue
            # search() orders equal scores by publication time (none here), then URL
            hits = sorted(ranked(folder, query_terms(row["title"]), limit=LIMIT), key=lambda h: (-h[1], h[0]))
            urls = [url for url, _ in hits]
            rank = urls.index(str(row["url"])) + 1 if row["url"] in urls else None
            twins = rank is not None and all(titles[u] == row["title"] for u in urls[: rank - 1])
            found.append((rank, twins, row))
    return found


def bucket(rank: int | None) -> str:
    """The table row a rank falls in."""
    if rank is None:
        return f"missing (> {LIMIT})"
    if rank == 1:
        return "1"
    return "2-10" if rank <= 10 else f"11-{LIMIT}"


def main() -> int:
    """Print the rank table and the worst-ranked titles; exit 1 if a title does not find its article."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "wirehouse-search-titles.jsonl"
    )
    parser.add_argument("--show", type=int, default=10, help="worst-ranked titles to list")
    args = parser.parse_args()
    found = ranks(extract(args.cache))
    counts = Counter(bucket(rank) for rank, _, _ in found)
    twins = sum(1 for rank, twin, _ in found if twin and rank != 1)
    print(f"| rank of own title ({len(found)} titled articles) | articles |")
    print("|---|---|")
    for name in ("1", "2-10", f"11-{LIMIT}", f"missing (> {LIMIT})"):
        print(f"| {name} | {counts.get(name, 0)} |")
    print(f"below rank 1 behind only articles of the same title: {twins}")
    worst = sorted(found, key=lambda f: -(f[0] or LIMIT + 1))[: args.show]
    for rank, twin, row in worst:
        if rank != 1:
            same = " (behind the same title)" if twin else ""
            print(f"{rank or 'missing'}{same}\t{row['language']}\t{str(row['title'])[:90]}")
    return 1 if counts.get(f"missing (> {LIMIT})") else 0


if __name__ == "__main__":
    sys.exit(main())
