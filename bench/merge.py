"""How fast one lake folds in articles: the ceiling of many writers on one lake (`make bench-merge`).

Every writer of a shared lake stages its batches without waiting, but one merger at a time folds them
into the article store (warehouse/staging.py). This bench stores the same generated wire-copy
articles (bench/dedup.py's generator, with real fingerprints, so story assignment does real work):
- embedded: batch by batch, as one ingest does (the baseline);
- shared: staged by a writer, then merged by one merger, against a throwaway PostgreSQL catalog.
The merge rate is the most articles per second a shared lake takes, however many machines extract.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from bench.dedup import generate, load_sources
from core.records import Article
from tasks import wirecopy
from tests.support.pgcluster import available, create_database, postgres_cluster

PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    catalog: str
    step: str
    articles: int
    seconds: float

    @property
    def rate(self) -> float:
        """Articles per second."""
        return self.articles / self.seconds if self.seconds else 0.0


def make_articles(count: int, corpus: Path | None) -> list[Article]:
    """Generated wire copies as extracted articles (text, fingerprint, dates) with distinct URLs."""
    data = generate(count, load_sources(corpus))
    return [
        Article(
            url=a.url,
            feed_url=f"https://feeds.example/{n % 40}.xml",
            link=a.url,
            guid=None,
            title=a.text.split("\n", 1)[0][:120],
            text=a.text,
            fetched_at=a.arrives_at.astimezone(UTC),
            published_at=a.seen_at.astimezone(UTC),
            extraction_status="ok",
            language="de",
            word_count=len(a.text.split()),
            fingerprint=wirecopy.fingerprint(a.text),
            raw_html_zlib=b"x" * 2000,
        )
        for n, a in enumerate(sorted(data, key=lambda a: (a.arrives_at, a.url)))
    ]


def batches(articles: Sequence[Article], size: int) -> list[list[Article]]:
    """Consecutive batches of ``size``."""
    return [list(articles[i : i + size]) for i in range(0, len(articles), size)]


def measure_embedded(articles: Sequence[Article], size: int, folder: Path) -> Row:
    """Store batch by batch into a fresh embedded lake (what one ingest does)."""
    from warehouse.connection import open_warehouse, run_scope
    from warehouse.staging import save_batch

    path = folder / "news.sqlite"
    with run_scope(path, timeout=60, hold=True):
        with open_warehouse(path, migrate=True):
            pass
        started = time.perf_counter()
        for batch in batches(articles, size):
            save_batch(path, batch, "bench")
        return Row("embedded (SQLite)", "store batch by batch", len(articles), time.perf_counter() - started)


def measure_shared(articles: Sequence[Article], size: int, warehouse: str) -> list[Row]:
    """Stage every batch, then merge them all (one merger; the ceiling of a shared lake)."""
    from warehouse.connection import hold_warehouse, open_warehouse
    from warehouse.staging import merge_staged, stage_batch

    with hold_warehouse(warehouse):
        with open_warehouse(warehouse, migrate=True):
            pass
        started = time.perf_counter()
        with open_warehouse(warehouse) as con:
            for batch in batches(articles, size):
                stage_batch(con, batch, "bench")
        staged = time.perf_counter() - started
        started = time.perf_counter()
        result = merge_staged(warehouse)
        merged = time.perf_counter() - started
    assert result.articles == len(articles), result
    return [
        Row("shared (PostgreSQL)", "stage (each writer, no lock)", len(articles), staged),
        Row("shared (PostgreSQL)", "merge (one merger at a time)", len(articles), merged),
    ]


def table(rows: Sequence[Row], size: int) -> str:
    """The markdown table docs/benchmarks.md quotes."""
    lines = [
        f"| catalog | step (batches of {size}) | articles | seconds | articles/s |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [f"| {r.catalog} | {r.step} | {r.articles:,} | {r.seconds:.1f} | {r.rate:,.0f} |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.merge", description=__doc__)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--corpus", type=Path, default=PROJECT.parent / "shared" / "corpora" / "fundus")
    args = parser.parse_args(argv)
    articles = make_articles(args.articles, args.corpus if args.corpus.is_dir() else None)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wirehouse-bench-merge-") as scratch:
        folder = Path(scratch)
        rows.append(measure_embedded(articles, args.batch_size, folder / "embedded"))
        if available():
            os.environ["WIREHOUSE_DATA_PATH"] = str(folder / "shared-data") + os.sep
            with postgres_cluster() as conninfo:
                rows += measure_shared(articles, args.batch_size, create_database(conninfo, "bench_lake"))
        else:
            print("PostgreSQL binaries not installed: the shared rows are skipped")
    print(table(rows, args.batch_size))
    print(f"\nreproduce: python -m bench.merge --articles {args.articles} --batch-size {args.batch_size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
