"""Search index cost at scale: what indexing one batch costs at 10k and 100k articles, and query latency.

Run: ``.venv/bin/python -m bench.search_scale [--sizes 10000 100000]``. Articles are synthetic (our own
word lists), stored only in the index, so the figures are the index's own cost per batch.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.records import Article
from warehouse.search import index_articles, open_index

WORDS = [
    "regierung",
    "haushalt",
    "wahl",
    "minister",
    "stadt",
    "polizei",
    "bahn",
    "streik",
    "klima",
    "energie",
    "preise",
    "schule",
    "hafen",
    "government",
    "budget",
    "election",
    "minister",
    "city",
    "police",
    "rail",
    "strike",
    "climate",
    "energy",
    "prices",
    "school",
    "harbour",
    "gouvernement",
    "budget",
    "élection",
    "ministre",
    "ville",
    "police",
    "grève",
    "climat",
    "énergie",
    "prix",
    "école",
    "port",
]
LANGUAGES = ("de", "en", "fr", "ja", "es")
BATCH = 50


def article(n: int, rng: random.Random) -> Article:
    text = " ".join(rng.choice(WORDS) for _ in range(300))
    return Article(
        url=f"https://bench.example/{n}",
        feed_url="https://bench.example/rss",
        link=f"https://bench.example/{n}",
        guid=None,
        title=" ".join(rng.choice(WORDS) for _ in range(8)),
        text=text,
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        extraction_status="ok",
        language=LANGUAGES[n % len(LANGUAGES)],
    )


def measure(folder: Path, sizes: list[int]) -> list[str]:
    rng = random.Random(0)
    lines = [
        "| articles in index | one batch of 50 (p50 of 20) | query p50 (of 20) | index size |",
        "|---|---|---|---|",
    ]
    stored = 0
    for size in sizes:
        while stored < size - 20 * BATCH:
            chunk = min(2000, size - 20 * BATCH - stored)
            index_articles(folder, [article(stored + i, rng) for i in range(chunk)])
            stored += chunk
        batch_seconds = []
        for _ in range(20):
            started = time.perf_counter()
            index_articles(folder, [article(stored + i, rng) for i in range(BATCH)])
            batch_seconds.append(time.perf_counter() - started)
            stored += BATCH
        index = open_index(folder, create=False)
        index.reload()
        searcher = index.searcher()
        query_seconds = []
        for word in WORDS[:20]:
            started = time.perf_counter()
            searcher.search(index.parse_query(word, ["text_german", "text_english", "text_french"]), 20)
            query_seconds.append(time.perf_counter() - started)
        size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        lines.append(
            f"| {searcher.num_docs:,} | {statistics.median(batch_seconds) * 1000:.0f} ms "
            f"| {statistics.median(query_seconds) * 1000:.1f} ms | {size_mb:.0f} MB |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(measure(Path(tmp) / "search", sorted(args.sizes))))


if __name__ == "__main__":
    main()
