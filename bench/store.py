"""What storing one batch costs the flow's process: `store_articles` on a prefilled lake, step by step.

Run: ``.venv/bin/python -m bench.store [--ref main] [--rounds 3]`` (``make bench-store``). Corpus pages
are extracted once, then repeated with distinct URLs; a lake is prefilled with ``--prefill`` of them
(stored in big batches, then the maintenance flow's upkeep, as a lake looks after a day of ingests),
and ``--batches`` batches of ``--batch-size`` new ones are stored into a copy of it, one batch at a
time as the ingest stores them. With ``--ref``, the same is done with the code of that git ref (a
temporary worktree) on a copy of the same prefilled lake, alternating with this tree round by round, so
both meet the same machine load. Each side runs in its own process (``PYTHONPATH`` picks the code);
the report gives per-batch seconds by step (p50/p95), wall and CPU seconds per batch, the run's closing
cost, read latencies afterwards, and whether both sides stored the same rows.

Steps are timed by wrapping the connection handed to ``store_articles`` (each statement labelled by
what it does) and the functions ``warehouse.articles`` calls; functions include their statements.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import pickle
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT.parent / "shared" / "corpora" / "fundus"
PREFILL_BATCH = 500

# Statement text -> step label (first match wins); anything else is labelled by its first words.
_LABELS = [
    (r"^BEGIN", "sql: begin"),
    (r"^COMMIT", "sql: commit"),
    (r"^ROLLBACK", "sql: rollback"),
    (r"^(MERGE|INSERT) INTO article_store", "sql: write articles"),
    (r"^(MERGE|INSERT) INTO raw_pages", "sql: write raw pages"),
    (r"^DELETE FROM quotes", "sql: delete quotes"),
    (r"^INSERT INTO quotes", "sql: insert quotes"),
    (r"WITH hits", "sql: story candidates"),
    (r"^UPDATE article_store SET story_id", "sql: rename stories"),
    (r"^DELETE FROM story_keys", "sql: delete story keys"),
    (r"^INSERT INTO story_keys", "sql: insert story keys"),
    (r"NOT EXISTS \(SELECT 1 FROM article_store|FROM batch b LEFT JOIN article_store", "sql: writable check"),
]
# Functions of warehouse.articles' namespace timed as a whole (their statements are inside).
_FUNCTIONS = {
    "assign_story_ids": "fn: assign_story_ids",
    "store_story_keys": "fn: store_story_keys",
    "index_articles": "fn: index_articles",
}
# Per row an md5 first: aggregating whole rows (raw HTML included) would need gigabytes at 10k articles.
_HASH = "SELECT md5(string_agg(md5(CAST(t AS VARCHAR)), '' ORDER BY {order})) FROM {table} t"
_HASHES = {
    # ingested_at is the time of the insert, different in every run.
    "article_store": _HASH.format(table="(SELECT * EXCLUDE (ingested_at) FROM article_store)", order="t.url"),
    "raw_pages": _HASH.format(table="raw_pages", order="t.url"),
    "quotes": _HASH.format(table="quotes", order="t.article_url, t.ordinal"),
    "story_keys": _HASH.format(table="story_keys", order="t.url, t.band_key"),
}
_READS = {
    "count articles": "SELECT count(*) FROM articles",
    "count quotes": "SELECT count(*) FROM quotes",
    "stories of size > 1": "SELECT count(*) FROM stories WHERE size > 1",
}


# ------------------------------------------------------------------------------------------ articles


def label(sql: str) -> str:
    """The step a statement belongs to."""
    text = " ".join(sql.split())
    for pattern, name in _LABELS:
        if re.search(pattern, text):
            return name
    return "sql: " + " ".join(text.split()[:4])


def shuffled_text(text: str | None, seed: int) -> str | None:
    """The text with each paragraph's words in a seeded order: the same words, other shingles.

    A copy with seed 0 keeps its text. Other seeds make a text with the same vocabulary (so the search
    index grows as with real articles) but a different fingerprint, so it is no wire copy of the rest.
    """
    if not text or seed == 0:
        return text
    rng = random.Random(seed)
    paragraphs = []
    for paragraph in text.split("\n"):
        words = paragraph.split(" ")
        rng.shuffle(words)
        paragraphs.append(" ".join(words))
    return "\n".join(paragraphs)


def corpus_articles(corpus: Path) -> list[Any]:
    """Extract and enrich every page of a truth.jsonl corpus once, as the ingest's workers do."""
    from core.records import FeedEntry, Page
    from tasks.cpu import process_pages

    pages = []
    for line in (corpus / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        url = row["url"]
        crawled = datetime.fromisoformat(row["crawl_date"]) if row.get("crawl_date") else datetime.now(UTC)
        pages.append(
            Page(
                entry=FeedEntry(feed_url=f"https://{url.split('/')[2]}/feed", url=url, link=url, guid=url),
                fetched_at=crawled if crawled.tzinfo else crawled.replace(tzinfo=UTC),
                final_url=url,
                http_status=200,
                content_type="text/html",
                body=gzip.decompress((corpus / row["file"]).read_bytes()),
            )
        )
    return process_pages(pages)


def copies(base: Sequence[Any], start: int, count: int) -> list[Any]:
    """Articles ``start`` to ``start + count`` of the endless repetition of ``base``, each with its own URL.

    Copies ``2k`` and ``2k + 1`` of a page share their text and time (a wire copy pair, one story);
    other pairs have the words shuffled and a later time, so the lake holds realistic story groups.
    """
    from tasks import wirecopy

    made = []
    for n in range(start, start + count):
        article = base[n % len(base)]
        copy = n // len(base)
        variant = copy // 2
        text = shuffled_text(article.text, variant)
        shift = timedelta(hours=6 * variant)
        url = f"{article.url.rstrip('/')}/copy-{copy}"
        made.append(
            replace(
                article,
                url=url,
                link=url,
                guid=url,
                text=text,
                fingerprint=wirecopy.fingerprint(text) if article.fingerprint else None,
                published_at=article.published_at + shift if article.published_at else None,
                fetched_at=article.fetched_at + shift,
            )
        )
    return made


# ------------------------------------------------------------------------------------------ child side


class _Clock:
    """Seconds per step label, for the batch being stored."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


class _TimedResult:
    def __init__(self, result: Any, clock: _Clock, name: str) -> None:
        self._result, self._clock, self._name = result, clock, name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._result, attr)
        if not attr.startswith("fetch"):
            return value

        def fetch(*args: Any, **kwargs: Any) -> Any:
            with self._clock.step(self._name):
                return value(*args, **kwargs)

        return fetch


class TimedConnection:
    """A DuckDB connection whose statements are timed by step label (everything else passes through)."""

    def __init__(self, con: Any, clock: _Clock) -> None:
        self._con, self._clock = con, clock

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        name = label(sql)
        with self._clock.step(name):
            result = self._con.execute(sql, *args, **kwargs)
        return _TimedResult(result, self._clock, name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._con, attr)


def _timed(function: Callable[..., Any], clock: _Clock, name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with clock.step(name):
            return function(*args, **kwargs)

    return wrapper


def _index_docs(folder: Path) -> int:
    import tantivy

    index = tantivy.Index.open(str(folder))
    index.reload()
    return int(index.searcher().num_docs)


def _segments(folder: Path) -> int:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return len(meta.get("segments", []))


def child_prefill(spec: dict[str, Any]) -> dict[str, Any]:
    """Store the prefill articles in big batches, then run the maintenance flow's upkeep once."""
    from warehouse.articles import store_articles
    from warehouse.connection import lake_of, open_warehouse, run_scope
    from warehouse.maintenance import upkeep

    with open(spec["articles"], "rb") as handle:
        base = pickle.load(handle)  # our own file, written by the parent
    path = Path(spec["lake"])
    lake = lake_of(path)
    started = time.perf_counter()
    with run_scope(path, timeout=60, hold=True), open_warehouse(path) as con:
        for start in range(0, spec["prefill"], PREFILL_BATCH):
            count = min(PREFILL_BATCH, spec["prefill"] - start)
            store_articles(con, copies(base, start, count), "prefill", search_dir=lake.search_dir)
        upkeep(con, keep_snapshots=timedelta(0), file_grace=timedelta(0))
    return {"seconds": time.perf_counter() - started}


def child_store(spec: dict[str, Any]) -> dict[str, Any]:
    """Store the measured batches one at a time, timing each step; then read and hash the lake."""
    import warehouse.articles as articles_module
    from core.records import FeedEntry
    from warehouse.articles import known_urls, store_articles
    from warehouse.connection import lake_of, open_warehouse, run_scope

    with open(spec["articles"], "rb") as handle:
        base = pickle.load(handle)  # our own file, written by the parent
    path = Path(spec["lake"])
    lake = lake_of(path)
    size, batches = spec["batch_size"], spec["batches"]
    batch_list = [copies(base, spec["prefill"] + i * size, size) for i in range(batches)]
    clock = _Clock()
    for attr, name in _FUNCTIONS.items():
        if hasattr(articles_module, attr):
            setattr(articles_module, attr, _timed(getattr(articles_module, attr), clock, name))
    per_batch: list[dict[str, float]] = []
    stored = 0
    scope_started = time.perf_counter()
    with run_scope(path, timeout=60, hold=True):
        with open_warehouse(path) as con:
            timed = TimedConnection(con, clock)
            for batch in batch_list:
                clock.seconds.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                stored += store_articles(timed, batch, "bench", search_dir=lake.search_dir)  # type: ignore[arg-type]
                row = dict(clock.seconds)
                row["batch wall"] = time.perf_counter() - wall
                row["batch cpu"] = time.process_time() - cpu
                per_batch.append(row)
        closing_started = time.perf_counter()
    closing = time.perf_counter() - closing_started
    total = time.perf_counter() - scope_started
    result: dict[str, Any] = {"batches": per_batch, "closing": closing, "total": total, "stored": stored}
    # After the run: is every stored article found (search is never stale), how fast do reads answer.
    with open_warehouse(path, read_only=True) as con:
        ok = con.execute("SELECT count(*) FROM articles WHERE extraction_status = 'ok'").fetchone()[0]
        result["ok_articles"] = int(ok)
        result["index_docs"] = _index_docs(lake.search_dir)
        result["index_segments"] = _segments(lake.search_dir)
        result["hashes"] = {name: con.execute(sql).fetchone()[0] for name, sql in _HASHES.items()}
        reads: dict[str, list[float]] = defaultdict(list)
        entries = [
            FeedEntry(feed_url=a.feed_url, url=a.url, link=a.link, guid=a.guid) for a in batch_list[-1]
        ]
        for _ in range(spec["read_repeats"]):
            for name, sql in _READS.items():
                started = time.perf_counter()
                con.execute(sql).fetchall()
                reads[name].append(time.perf_counter() - started)
            started = time.perf_counter()
            known_urls(con, entries)
            reads["known_urls of a batch"].append(time.perf_counter() - started)
        result["reads"] = {name: statistics.median(values) for name, values in reads.items()}
        result["files"] = int(
            con.execute(
                "SELECT count(*) FROM __ducklake_metadata_news.ducklake_data_file WHERE end_snapshot IS NULL"
            ).fetchone()[0]
        )
    return result


def child_main(argv: Sequence[str]) -> None:
    """Entry point of a child process: ``--child SPEC.json`` (writes ``SPEC.json.out``)."""
    spec_path = Path(argv[argv.index("--child") + 1])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    result = child_prefill(spec) if spec["mode"] == "prefill" else child_store(spec)
    spec_path.with_suffix(".out.json").write_text(json.dumps(result), encoding="utf-8")


# ------------------------------------------------------------------------------------------ parent side


def run_child(tree: Path, spec: dict[str, Any], work: Path, name: str) -> dict[str, Any]:
    """Run one side in its own process with ``tree``'s code first on the path."""
    spec_path = work / f"{name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tree), PREFECT_HOME=str(work / "prefect"))
    env.pop("WIREHOUSE_WAREHOUSE", None)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(spec_path.with_suffix(".out.json").read_text(encoding="utf-8"))
    return result


def lake_files(lake: Path) -> list[Path]:
    """The catalog, data folder and search index of an embedded lake."""
    stem = lake.name.removesuffix(".sqlite")
    return [lake, lake.with_name(stem + ".data"), lake.with_name(stem + ".search")]


def copy_lake(source: Path, target: Path) -> None:
    """Copy an embedded lake (catalog, data, index) to another folder under the same file names."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for item in lake_files(source):
        destination = target.parent / item.name
        if item.is_dir():
            shutil.copytree(item, destination)
        elif item.exists():
            shutil.copy2(item, destination)
    # The catalog remembers its data folder's absolute path; the files inside are relative to it.
    data = str(target.with_name(target.name.removesuffix(".sqlite") + ".data").absolute()) + os.sep
    with contextlib.closing(sqlite3.connect(target)) as catalog, catalog:
        catalog.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", [data])


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Per step: p50 and p95 seconds per batch over every batch of every round of one side."""
    from tests.support.readers import (
        percentile,  # here: a child process runs this file without the bench package
    )

    values: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for row in result["batches"]:
            for name in {n for r in result["batches"] for n in r}:
                values[name].append(row.get(name, 0.0))
    return {name: (percentile(v, 0.5), percentile(v, 0.95)) for name, v in values.items()}


def report(sides: dict[str, list[dict[str, Any]]]) -> str:
    """The bench's table: steps by p50, then totals, run closing, reads and checks per side."""
    names = list(sides)
    summaries = {side: summarise(results) for side, results in sides.items()}
    steps = sorted(
        {s for summary in summaries.values() for s in summary},
        key=lambda s: (s.startswith("batch"), -max(summaries[n].get(s, (0, 0))[0] for n in names)),
    )
    lines = ["| step (s per batch) | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " |"]
    lines.append("|---" * (1 + 2 * len(names)) + "|")
    for step in steps:
        cells = []
        for n in names:
            p50, p95 = summaries[n].get(step, (0.0, 0.0))
            cells += [f"{p50:.4f}", f"{p95:.4f}"]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")

    def per_round(key: str, fmt: str = "{:.2f}") -> str:
        return "; ".join(f"{n}: " + ", ".join(fmt.format(r[key]) for r in sides[n]) for n in names)

    lines.append("")
    lines.append("run total (all batches + closing), s per round: " + per_round("total"))
    lines.append("run closing (end of the run scope), s per round: " + per_round("closing", "{:.3f}"))
    lines.append("index segments after the run: " + per_round("index_segments", "{}"))
    lines.append("live Parquet files after the run: " + per_round("files", "{}"))
    for read in sides[names[0]][0]["reads"]:
        lines.append(
            f"read '{read}' median s: "
            + "; ".join(f"{n}: " + ", ".join(f"{r['reads'][read]:.4f}" for r in sides[n]) for n in names)
        )
    stale = [
        f"{n} round {i + 1}"
        for n in names
        for i, r in enumerate(sides[n])
        if r["index_docs"] != r["ok_articles"]
    ]
    lines.append(
        "search after the run: "
        + ("every stored article is in the index" if not stale else "STALE in " + ", ".join(stale))
    )
    hashes = {json.dumps(r["hashes"], sort_keys=True) for results in sides.values() for r in results}
    lines.append(
        "stored rows (articles, raw pages, quotes, story keys): "
        + ("identical on every side and round" if len(hashes) == 1 else "DIFFER between sides or rounds")
    )
    return "\n".join(lines)


@contextlib.contextmanager
def ref_tree(ref: str | None) -> Iterator[Path | None]:
    """A temporary worktree of ``ref`` (None: no comparison)."""
    if ref is None:
        yield None
        return
    sys.path.insert(0, str(PROJECT))
    from bench.lake import baseline_checkout

    with baseline_checkout(ref) as tree:
        yield tree


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, prepare articles and the prefilled lake, run the sides, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--prefill", type=int, default=10_000, help="articles in the lake before")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="runs per side, alternating sides")
    parser.add_argument("--ref", help="also run this git ref's code (e.g. main) on the same lake")
    parser.add_argument("--read-repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work folder to keep (reuses its articles and prefill)")
    args = parser.parse_args(argv)
    if not (args.corpus / "truth.jsonl").is_file():
        raise SystemExit(f"bench.store: no corpus at {args.corpus}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="wirehouse-bench-store-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        with ref_tree(args.ref) as tree:
            trees = {"this tree": PROJECT} | ({f"ref {args.ref}": tree} if tree else {})
            for name, folder in trees.items():
                commit = subprocess.run(
                    ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.strip()
                print(f"{name}: {commit or 'not a git checkout'}")
            articles = work / "articles.pickle"
            if not articles.exists():
                started = time.perf_counter()
                extracted = corpus_articles(args.corpus)
                articles.write_bytes(pickle.dumps(extracted))
                print(f"extracted {len(extracted)} corpus pages in {time.perf_counter() - started:.1f} s")
            spec = {
                "articles": str(articles),
                "prefill": args.prefill,
                "batches": args.batches,
                "batch_size": args.batch_size,
                "read_repeats": args.read_repeats,
            }
            prefilled = work / f"prefill-{args.prefill}" / "news.sqlite"
            if not prefilled.exists():
                # Prefilled with the reference code when there is one: both sides start from its lake.
                done = run_child(
                    tree or PROJECT, spec | {"mode": "prefill", "lake": str(prefilled)}, work, "prefill"
                )
                print(f"prefilled {args.prefill:,} articles in {done['seconds']:.1f} s")
            sides: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
            for round_no in range(args.rounds):
                order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
                for name in order:
                    run = work / f"round-{round_no}-{name.replace(' ', '-')}"
                    shutil.rmtree(run, ignore_errors=True)
                    copy_lake(prefilled, run / "news.sqlite")
                    result = run_child(
                        trees[name],
                        spec | {"mode": "store", "lake": str(run / "news.sqlite")},
                        work,
                        run.name,
                    )
                    sides[name].append(result)
                    shutil.rmtree(run, ignore_errors=True)
                    print(f"round {round_no + 1} {name}: {result['total']:.2f} s", flush=True)
            print(
                f"\n{args.batches} batches of {args.batch_size} into a lake of {args.prefill:,} articles, "
                f"{args.rounds} rounds per side (load {os.getloadavg()[0]:.1f} now; the machine may be shared)\n"
            )
            print(report(sides))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv)
    else:
        main()
