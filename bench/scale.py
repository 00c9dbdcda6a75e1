"""Does the warehouse stay fast as it grows: per-batch costs on generated lakes of 10k, 100k and 1M articles.

Run: ``.venv/bin/python -m bench.scale [--sizes 10000,100000] [--quick]`` (``make bench-scale``). For each
size a lake is generated (bench/lakegen.py, bulk inserts) or reused from ``--work``; then a child process
with this tree's code on the path measures, one call at a time as the ingest makes them:

* ``store_articles``: ``--batches`` batches of 50 new generated articles (about 7 % of them wire copies
  of the lake's latest articles), with the search index, inside a run scope: wall and CPU per batch;
* ``known_urls`` on 50 feed entries, half of them stored (a sample of the lake), half new;
* story candidates: ``assign_story_ids`` on a batch of 50 new articles (the band-key lookup of the
  stored candidates and the grouping), inside a transaction that is rolled back; where a statement is
  labelled as bench/store.py labels them, the candidates statement alone too (a blank when the code
  no longer has it).

With ``--ingest``, a whole ``wirehouse ingest`` of the kill trial's 1,030 corpus pages (served on
loopback, bench/kill_trial.py) into each lake too, as pages stored per second of the process.

The table gives p50 and p95 seconds per call and each p50 against the smallest lake's. With ``--ref``,
the same is measured with the code of a git ref (``git archive``, these two bench modules added) on
the same lakes, after this tree's run (so on a lake with this run's batches in it), in a table of its
own. Only public
functions are timed, so the bench keeps working when their internals change. The measured batches
stay in a reused lake (``--work``); their URLs are new on every run.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
BATCH = 50
CANDIDATES_STEP = "sql: story candidates"  # bench/store.py's label of the candidates statement


# ------------------------------------------------------------------------------------------ child side


def _batches(spec: dict[str, Any], originals: Sequence[Any], first: int, count: int, begin: Any) -> list[Any]:
    """``count`` batches of new articles after ``begin``, each 10 minutes later than the one before."""
    from bench.lakegen import make_articles

    return [
        make_articles(
            spec["seed"],
            first + i * BATCH,
            BATCH,
            begin + timedelta(minutes=10 * i),
            begin + timedelta(minutes=10 * (i + 1)),
            originals=originals,
            with_story_ids=False,  # store_articles assigns them
        )
        for i in range(count)
    ]


def _key_index(con: Any) -> tuple[Any, Path] | None:
    """The key index module and file where the code has one (warehouse.keys, #22), else None."""
    import warehouse

    # Looked for in the tree being measured: the venv's editable install may hold another checkout's.
    if not (Path(warehouse.__file__).parent / "keys.py").is_file():
        return None
    import warehouse.keys as keys  # type: ignore[import-not-found, unused-ignore]

    return keys, keys.index_path(con)


def _story_lookup(con: Any) -> Any:
    """``assign_story_ids`` called as ``store_articles`` calls it, with the key index where it takes one."""
    from warehouse.stories import assign_story_ids

    if len(inspect.signature(assign_story_ids).parameters) == 2:
        return lambda batch: assign_story_ids(con, batch)
    found = _key_index(con)
    if found is None:
        raise RuntimeError("assign_story_ids takes a key index but warehouse.keys is missing")
    keys, path = found

    def lookup(batch: Any) -> Any:
        keys.catch_up(con, path)  # as the store does, inside the transaction (nothing to do here)
        return assign_story_ids(con, batch, path)

    return lookup


def child_measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Time store_articles, known_urls and assign_story_ids on one lake; seconds per call."""
    import bench.store as store_module
    import warehouse.articles as articles_module
    from bench.lakegen import Original
    from bench.store import _FUNCTIONS, TimedConnection, _Clock, _timed
    from core.records import FeedEntry
    from warehouse.articles import known_urls, store_articles
    from warehouse.connection import lake_of, open_warehouse, run_scope

    path = Path(spec["lake"])
    lake = lake_of(path)
    with open_warehouse(path, read_only=True) as con:
        count, last = con.execute(
            "SELECT count(*), max(coalesce(published_at, fetched_at)) FROM articles"
        ).fetchone()
        recent = con.execute(
            "SELECT url, title, text, coalesce(published_at, fetched_at) FROM articles"
            " WHERE extraction_status = 'ok' ORDER BY 4 DESC LIMIT 300"
        ).fetchall()
        # A sample size takes no parameter; it is a number of ours.
        rows = int(BATCH * spec["repeats"])
        sample = con.execute(f"SELECT url, feed_url, guid FROM articles USING SAMPLE {rows} ROWS").fetchall()  # noqa: S608
    originals = [Original(url, title, text, seen) for url, title, text, seen in recent]
    # Article numbers far beyond the lake's own, one range per run: every measured URL is new.
    first = 10_000_000 + spec["run"] * 100_000
    stores = _batches(spec, originals, first, spec["batches"], last)
    lookups = _batches(spec, originals, first + 50_000, spec["repeats"], last + timedelta(days=1))
    result: dict[str, Any] = {"articles": int(count)}
    times: dict[str, list[float]] = defaultdict(list)

    clock = _Clock()
    # The candidates statement as the key index left it (#22): bench/store.py's label knows the older one.
    store_module._LABELS.insert(0, (r"FROM story_keys k JOIN batch_keys", CANDIDATES_STEP))
    for attr, name in _FUNCTIONS.items():
        if hasattr(articles_module, attr):
            setattr(articles_module, attr, _timed(getattr(articles_module, attr), clock, name))
    with run_scope(path, timeout=60, hold=True), open_warehouse(path) as con:
        found_index = _key_index(con)
        if found_index is not None:
            # A generated lake's first use builds the key index from the whole lake: once, not per batch.
            started = time.perf_counter()
            found_index[0].catch_up(con, found_index[1])
            result["key index build (once)"] = time.perf_counter() - started
        timed = TimedConnection(con, clock)
        for batch in stores:
            clock.seconds.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            store_articles(timed, batch, "bench-scale", search_dir=lake.search_dir)  # type: ignore[arg-type]
            times["store wall"].append(time.perf_counter() - wall)
            times["store cpu"].append(time.process_time() - cpu)
            for step in ("fn: assign_story_ids", CANDIDATES_STEP):
                if step in clock.seconds:
                    times[f"store: {step.split(': ')[1]}"].append(clock.seconds[step])
            if spec.get("steps"):  # every labelled statement and function, to find what grows
                for step, seconds in clock.seconds.items():
                    times[f"step {step}"].append(seconds)

    with open_warehouse(path, read_only=True) as con:
        found = []
        for r in range(spec["repeats"]):
            known = [
                FeedEntry(feed_url=f, url=u, link=u, guid=g) for u, f, g in sample[r * 25 : (r + 1) * 25]
            ]
            new = [
                FeedEntry(feed_url=e.feed_url, url=e.url + "-new", link=e.url + "-new", guid=e.url + "-new")
                for e in known
            ]
            started = time.perf_counter()
            found.append(len(known_urls(con, known + new)))
            times["known_urls"].append(time.perf_counter() - started)
        result["known_found"] = [found[0], min(found), max(found)]

    with open_warehouse(path) as con:
        timed = TimedConnection(con, clock)
        lookup = _story_lookup(timed)
        hits = 0
        for batch in lookups:
            clock.seconds.clear()
            con.execute("BEGIN TRANSACTION")
            try:
                started = time.perf_counter()
                assigned, _, _ = lookup(batch)
                times["story candidates (assign_story_ids)"].append(time.perf_counter() - started)
            finally:
                con.execute("ROLLBACK")
            if CANDIDATES_STEP in clock.seconds:
                times[f"story candidates ({CANDIDATES_STEP})"].append(clock.seconds[CANDIDATES_STEP])
            hits += sum(1 for a in assigned if a.story_id != a.url)
        result["linked_copies"] = hits
    result["times"] = dict(times)
    return result


# ------------------------------------------------------------------------------------------ parent side


def export_ref(ref: str, folder: Path) -> Path:
    """The files of a git ref in ``folder`` (git archive: no worktree), with this bench's modules added."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", "--format=tar", ref], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(f"bench.scale: git archive {ref} failed: {archive.stderr.decode()[-300:]}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    for name in ("lakegen.py", "scale.py"):  # the ref may predate them; they only call public functions
        shutil.copy2(PROJECT / "bench" / name, folder / "bench" / name)
    return folder


def run_child(spec: dict[str, Any], work: Path, tree: Path = PROJECT) -> dict[str, Any]:
    """Measure one lake in a fresh process (``tree``'s code first on the path, no warm caches)."""
    spec_path = work / f"measure-{spec['size']}-{tree.name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tree), PREFECT_HOME=str(work / "prefect"))
    env.pop("WIREHOUSE_WAREHOUSE", None)
    done = subprocess.run(
        [sys.executable, str(tree / "bench" / "scale.py"), "--child", str(spec_path)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring the {spec['size']:,}-article lake failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(spec_path.with_suffix(".out.json").read_text(encoding="utf-8"))
    return result


def ingest_rate(lake: Path, work: Path) -> tuple[int, float]:
    """Ingest the kill trial's corpus pages into the lake: (articles stored, seconds of the process)."""
    from bench.kill_trial import CORPORA, PAGES, _env
    from tests.support.chaos import rows
    from tests.support.corpus_site import corpus_pages, serve_pages

    def count() -> int:
        return int(rows(lake, "select count(*) from articles")[0][0])

    pages = [
        *corpus_pages(CORPORA / "trafilatura-eval", prefix="web"),
        *corpus_pages(CORPORA / "fundus-world", prefix="world"),
        *corpus_pages(CORPORA / "fundus", prefix="news"),
    ][:PAGES]
    before = count()
    with serve_pages(pages) as (_base, opml, _served):
        argv = [sys.executable, "-m", "wirehouse.cli", "ingest", "--feeds", opml, "--warehouse", str(lake)]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=work, env=_env(), check=False)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the ingest into {lake} failed:\n{done.stderr[-2000:]}")
    return count() - before, seconds


_ORDER = [
    "store wall",
    "store cpu",
    "store: assign_story_ids",
    "store: story candidates",
    "known_urls",
    "story candidates (assign_story_ids)",
    f"story candidates ({CANDIDATES_STEP})",
]


def table(results: dict[int, dict[str, Any]]) -> str:
    """The bench's table: a row per measurement, p50 / p95 per lake and the p50 against the smallest."""
    from tests.support.readers import percentile

    sizes = sorted(results)
    names = [n for n in _ORDER if any(n in r["times"] for r in results.values())]
    names += sorted({n for r in results.values() for n in r["times"]} - set(names))
    head = "| s per call (p50 / p95) | " + " | ".join(f"{results[s]['articles']:,} articles" for s in sizes)
    lines = [head + "".join(f" | {results[s]['articles']:,} : smallest" for s in sizes[1:]) + " |"]
    lines.append("|---" * (1 + 2 * len(sizes) - 1) + "|")
    for name in names:
        cells, ratios = [], []
        base = percentile(results[sizes[0]]["times"].get(name, []), 0.5)
        for size in sizes:
            values = results[size]["times"].get(name, [])
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            cells.append(f"{p50:.4f} / {p95:.4f}" if values else "")
            if size != sizes[0]:
                ratios.append(f"{p50 / base:.2f}" if values and base else "")
        lines.append(f"| {name} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Generate (or reuse) the lakes, measure each in a child process, print the fills and the table."""
    from bench.lakegen import fill

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="lake sizes, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10k and 100k lakes, fewer calls (minutes)")
    parser.add_argument("--batches", type=int, default=20, help="store_articles batches per lake")
    parser.add_argument("--repeats", type=int, default=20, help="known_urls and assign_story_ids calls")
    parser.add_argument("--workers", type=int, default=2, help="processes generating a lake")
    parser.add_argument("--ingest", action="store_true", help="also a 1,030-page ingest into each lake")
    parser.add_argument("--ref", help="also measure with the code of this git ref (e.g. main), same lakes")
    parser.add_argument("--steps", action="store_true", help="also a row per step of a store")
    parser.add_argument("--work", type=Path, help="keep the lakes here (lake-SIZE/) and reuse them next time")
    args = parser.parse_args(argv)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if args.quick:
        sizes, args.batches, args.repeats = [s for s in sizes if s <= 100_000] or [10_000], 10, 10
    work = args.work or Path(tempfile.mkdtemp(prefix="wirehouse-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    run = random.randrange(1000)
    trees = {"this tree": PROJECT}
    if args.ref:
        trees[f"ref {args.ref}"] = export_ref(args.ref, work / "ref-tree")
    results: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in trees}
    try:
        for size in sizes:
            lake = work / f"lake-{size}" / "news.sqlite"
            if lake.exists():
                print(f"{size:,} articles: reusing {lake}", flush=True)
            else:
                print(fill(lake, size, workers=args.workers).line(), flush=True)
            spec = {"lake": str(lake), "size": size, "batches": args.batches, "repeats": args.repeats}
            spec["steps"] = args.steps
            for offset, (name, tree) in enumerate(trees.items()):
                result = run_child(spec | {"seed": run, "run": run + offset}, work, tree)
                results[name][size] = result
                found = result["known_found"]
                built = result.get("key index build (once)")
                print(
                    f"  {name}: known_urls found {found[1]}-{found[2]} of 25 stored; "
                    f"{result['linked_copies']} new articles linked to stored stories"
                    + (f"; key index built in {built:.1f} s" if built is not None else ""),
                    flush=True,
                )
            if args.ingest:
                stored, seconds = ingest_rate(lake, work)
                results["this tree"][size]["times"]["ingest s per page (1,030 pages)"] = [
                    seconds / max(1, stored)
                ]
                print(
                    f"  ingest: {stored:,} pages in {seconds:.1f} s, {stored / seconds:.1f} pages/s",
                    flush=True,
                )
            if args.work is None:
                shutil.rmtree(lake.parent, ignore_errors=True)  # disk: the next lake may be ten times bigger
        print(
            f"\n{args.batches} store batches and {args.repeats} lookups of {BATCH} per lake "
            f"(load {os.getloadavg()[0]:.1f} now; the machine may be shared)"
        )
        for name, by_size in results.items():
            print(f"\n{name}:\n" if len(results) > 1 else "\n")
            print(table(by_size))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            shutil.rmtree(work / "ref-tree", ignore_errors=True)


if __name__ == "__main__":
    if "--child" in sys.argv:
        spec_file = Path(sys.argv[sys.argv.index("--child") + 1])
        out = child_measure(json.loads(spec_file.read_text(encoding="utf-8")))
        spec_file.with_suffix(".out.json").write_text(json.dumps(out), encoding="utf-8")
    else:
        main()
