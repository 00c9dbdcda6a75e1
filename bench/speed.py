"""Speed and scale on one machine: wirehouse against plain trafilatura on loopback-served corpus pages."""

# The entry point (`python -m bench.speed`, `make bench`; the docstring is its --help): it runs the limit
# (bench.speed_limit), the peer (bench.speed_peer) and the ingests (bench.speed_ingest), and prints the
# tables of bench.speed_report.

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.lake import baseline_checkout, default_baseline_ref, upkeep_files
from bench.speed_ingest import (
    PROJECT,
    IngestRun,
    _mib,
    _progress,
    attach_prefect_details,
    count_articles,
    prefect_server,
    prepare_prefect_home,
    run_ingest,
    wirehouse_env,
)
from bench.speed_limit import LIMIT_WORKERS, LimitResult, measure_limit
from bench.speed_peer import PEER_PARALLEL, PeerResult, measure_peer
from bench.speed_report import Report, _seconds, ratio_lines, report_lines
from tests.support.corpus_site import CorpusPage, load_truth, serve_corpus
from tests.support.readers import QueryPoller, query_command, reader_stats

DEFAULT_CORPUS = PROJECT.parent / "shared" / "corpora" / "fundus"
DEFAULT_COPIES = 8  # 126 pages x 8 = 1,008 pages
DEFAULT_SCALE = 10


# ------------------------------------------------------------------------------------------ corpus


def subset_corpus(corpus: Path, limit: int, folder: Path) -> Path:
    """A corpus folder holding only the first ``limit`` truth rows (their page files symlinked).

    Args:
        corpus: The full corpus.
        limit: Rows to keep.
        folder: Where to build it.

    Returns:
        The new corpus folder.
    """
    rows = load_truth(corpus)[:limit]
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        target = folder / row["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to((corpus / row["file"]).resolve())
    with (folder / "truth.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return folder


# ------------------------------------------------------------------------------------------ main


def _check_ingest(run: IngestRun, warehouse: Path, prefect_home: Path, live_server: bool) -> None:
    rows, ok = count_articles(warehouse)
    run.rows_after, run.rows_ok = rows, ok
    attach_prefect_details(run, prefect_home)
    if live_server:
        # A running server records task runs from its event stream a moment after the flow ends.
        for _ in range(20):
            before = run.task_runs_db
            time.sleep(1.0)
            attach_prefect_details(run, prefect_home)
            if run.task_runs_db is not None and run.task_runs_db == before:
                break
    if run.returncode != 0:
        tail = "\n".join(run.log.strip().splitlines()[-15:])
        _progress(f"  {run.label} exited with {run.returncode}; last lines:\n{tail}")


def _ingest_once(
    label: str,
    corpus: Path,
    copies: int,
    workdir: Path,
    prefect_home: Path,
    api_url: str | None,
    on_served: Callable[[str, list[CorpusPage]], None] | None = None,
    second_run: bool = False,
    readers: bool = False,
    upkeep: bool = False,
    baseline_tree: Path | None = None,
) -> tuple[IngestRun, IngestRun | None]:
    """Serve ``copies`` copies of the corpus and ingest them (and, if asked, ingest again unchanged).

    With ``readers``, `wirehouse query` runs every 0.2 s during the first ingest (the lake is created
    before it, so the first query finds it); with ``upkeep``, the lake's files are counted after the
    runs and after one upkeep pass. With ``baseline_tree``, the code of that checkout runs instead
    (an older DuckDB-file warehouse: only its times are kept).
    """
    with serve_corpus(corpus, copies) as (base, opml, pages):
        _progress(f"serving {len(pages):,} pages at {base} ({opml})")
        if on_served is not None:
            on_served(base, pages)
        warehouse = workdir / f"{label}{'.duckdb' if baseline_tree else '.sqlite'}"
        env = wirehouse_env(prefect_home, len(pages), api_url)
        if baseline_tree is not None:
            env["PYTHONPATH"] = str(baseline_tree)
        _progress(f"wirehouse ingest --feeds OPML ({len(pages):,} pages) ...")
        arguments = ["ingest", "--feeds", opml, "--warehouse", str(warehouse)]
        if readers:
            from warehouse.connection import open_warehouse

            with open_warehouse(warehouse, migrate=True):
                pass
            poller = QueryPoller(query_command(warehouse), env, workdir)
            with poller:
                first = run_ingest(label, arguments, env, workdir, len(pages))
            first.readers = reader_stats(poller.queries)
            _progress(
                f"  readers: {first.readers.queries} queries, {first.readers.errors} errors, "
                f"p95 {first.readers.p95:.2f} s"
            )
        else:
            first = run_ingest(label, arguments, env, workdir, len(pages))
        if baseline_tree is not None:
            if first.returncode != 0:
                _check_ingest(first, warehouse, prefect_home, False)  # prints the log's tail
            _progress(f"  done in {first.seconds:.1f} s (in-flow {_seconds(first.flow_seconds)} s)")
            return first, None
        _check_ingest(first, warehouse, prefect_home, api_url is not None)
        _progress(
            f"  done in {first.seconds:.1f} s (in-flow {_seconds(first.flow_seconds)} s), "
            f"{first.rows_after} rows, peak RSS {_mib(first.peak_rss)}"
        )
        second = None
        if second_run:
            _progress("wirehouse ingest again, unchanged feeds ...")
            second = run_ingest(f"{label} again", ["ingest", "--warehouse", str(warehouse)], env, workdir, 0)
            _check_ingest(second, warehouse, prefect_home, api_url is not None)
            _progress(f"  done in {second.seconds:.1f} s, {second.rows_after} rows")
        if upkeep:
            first.files = upkeep_files(warehouse)
            _progress(f"  lake files {first.files.before} -> {first.files.after} after upkeep")
    return first, second


def measure_ratios(
    corpus: Path, copies: int, pairs: int, scratch: Path, prefect_home: Path, ref: str | None = None
) -> list[tuple[LimitResult, IngestRun, IngestRun | None]]:
    """Measure the limit and then a fresh K-copy ingest, ``pairs`` times, against one running server.

    On a shared machine the load changes from minute to minute; a ratio of two measurements taken
    right after each other, repeated, says more than one ratio of a long bench. With ``ref``, the
    same ingest with the code at that git ref follows each pair, under the same conditions.

    Args:
        corpus: The corpus folder.
        copies: Copies of every page.
        pairs: How many limit-then-ingest pairs.
        scratch: Work folder (warehouses and logs).
        prefect_home: The bench's private Prefect home.
        ref: Another version of the code to compare (a temporary git worktree, same venv).

    Returns:
        The pairs, in order.
    """
    measured: list[tuple[LimitResult, IngestRun, IngestRun | None]] = []
    with contextlib.ExitStack() as stack:
        api_url = stack.enter_context(prefect_server(prefect_home, scratch / "prefect-server.log"))
        base, opml, pages = stack.enter_context(serve_corpus(corpus, copies))
        tree = stack.enter_context(baseline_checkout(ref)) if ref else None
        env = wirehouse_env(prefect_home, len(pages), api_url)

        def ingest(label: str, code: Path | None) -> IngestRun:
            warehouse = scratch / f"{label}.sqlite"
            arguments = ["ingest", "--feeds", opml, "--warehouse", str(warehouse)]
            run_env = {**env, "PYTHONPATH": str(code)} if code else env
            run = run_ingest(label, arguments, run_env, scratch, len(pages))
            if code is None:  # another version may store in another format (before the lake, a DuckDB file)
                run.rows_after, run.rows_ok = count_articles(warehouse)
            _progress(f"  {label}: in-flow {_seconds(run.flow_seconds)} s, {run.rows_after} rows")
            return run

        for number in range(1, pairs + 1):
            _progress(f"pair {number}: limit over {len(pages):,} pages ...")
            limit = measure_limit(pages, base)
            _progress(f"  limit {limit.pages / limit.seconds:.1f} pages/s")
            run = ingest(f"ratio{number}", None)
            other = ingest(f"ratio{number}-ref", tree) if tree else None
            measured.append((limit, run, other))
    return measured


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a truth.jsonl corpus folder")
    parser.add_argument(
        "--copies", type=int, default=DEFAULT_COPIES, help="copies of every page (default 8: 1,008 pages)"
    )
    parser.add_argument(
        "--scale", type=int, default=DEFAULT_SCALE, help="wirehouse also ingests scale x copies (0: skip)"
    )
    parser.add_argument(
        "--limit-pages", type=int, metavar="N", help="use only the first N pages of the corpus"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, warehouses)")
    parser.add_argument(
        "--temporary-server",
        action="store_true",
        help="each ingest starts Prefect's temporary server (an ad-hoc run) instead of reporting to a "
        "`prefect server start` the bench runs (a scheduled deployment's setting; default)",
    )
    parser.add_argument(
        "--ratios",
        type=int,
        metavar="N",
        default=0,
        help="only measure the limit and then the K-copy ingest, N times in turn, against one running Prefect "
        "server, and print each in-flow ratio and their median (for a machine shared with other work); "
        "with --baseline-ref REF, the code at REF ingests too after each pair",
    )
    parser.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="also run the K-copy ingest with the code at REF (a temporary git worktree, same venv) and "
        "compare in-flow times (default: the parent of the 'DuckLake storage' commit; '' to skip)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the speed benchmark and print its table.

    Args:
        argv: Arguments (default: sys.argv[1:]).

    Returns:
        0, also when the corpus is absent (the benchmark is then skipped); 1 when a row check failed
        or a reader query failed.
    """
    args = build_parser().parse_args(argv)
    corpus: Path = args.corpus
    if not (corpus / "truth.jsonl").is_file():
        print(f"speed benchmark skipped: no corpus at {corpus} (it lives beside the project in ../shared)")
        return 0
    command = " ".join(
        [
            ".venv/bin/python -m bench.speed",
            f"--corpus {shlex.quote(os.path.relpath(corpus.resolve(), Path.cwd()))}",
            f"--copies {args.copies}",
            f"--scale {args.scale}",
            *([f"--limit-pages {args.limit_pages}"] if args.limit_pages else []),
            *(["--temporary-server"] if args.temporary_server else []),
            *([f"--baseline-ref {shlex.quote(args.baseline_ref)}"] if args.baseline_ref is not None else []),
        ]
    )
    baseline_ref = default_baseline_ref() if args.baseline_ref is None else args.baseline_ref or None
    scratch = Path(tempfile.mkdtemp(prefix="wirehouse-speed-"))
    _progress(f"scratch folder {scratch}")
    try:
        if args.limit_pages:
            corpus = subset_corpus(args.corpus, args.limit_pages, scratch / "corpus")
        corpus_size = len(load_truth(corpus))
        prefect_home = scratch / "prefect-home"
        _progress("creating a private Prefect database (not timed) ...")
        prepare_prefect_home(prefect_home, wirehouse_env(prefect_home, 0))
        if args.ratios > 0:
            ref = args.baseline_ref or None  # only with --baseline-ref REF: no default here
            pairs = measure_ratios(corpus, args.copies, args.ratios, scratch, prefect_home, ref)
            print(f"\n== limit then ingest, {args.ratios} times, {pairs[0][1].pages:,} pages each ==")
            print("\n".join(ratio_lines(pairs, ref)), flush=True)
            print(f"\nreproduce: {command} --ratios {args.ratios}")
            runs = [run for _, *both in pairs for run in both if run is not None]
            return 0 if all(run.returncode == 0 and run.rows_after == run.pages for run in runs) else 1

        measured: dict[str, Any] = {}

        def limit_and_peer(base: str, pages: list[CorpusPage]) -> None:
            _progress(f"limit: plain trafilatura + langdetect in {LIMIT_WORKERS} processes ...")
            measured["limit"] = measure_limit(pages, base)
            limit: LimitResult = measured["limit"]
            _progress(f"  {limit.pages:,} pages in {limit.seconds:.1f} s")
            _progress(f"peer: trafilatura CLI --parallel {PEER_PARALLEL} over {len(pages):,} URLs ...")
            peer_dir = scratch / "peer"
            peer_dir.mkdir()
            measured["peer"] = measure_peer([base + page.path for page in pages], peer_dir)
            peer: PeerResult = measured["peer"]
            _progress(f"  {peer.pages:,} URLs in {peer.seconds:.1f} s (exit {peer.returncode})")

        with contextlib.ExitStack() as stack:
            api_url = None
            if not args.temporary_server:
                _progress("starting `prefect server start` for the runs (not timed) ...")
                api_url = stack.enter_context(prefect_server(prefect_home, scratch / "prefect-server.log"))
            first, second = _ingest_once(
                "run1",
                corpus,
                args.copies,
                scratch,
                prefect_home,
                api_url,
                on_served=limit_and_peer,
                second_run=True,
                upkeep=True,
            )
            assert second is not None
            # Readers get an ingest of their own: their processes take CPU from the run they watch.
            _progress("the same ingest into a fresh lake with `wirehouse query` every 0.2 s alongside ...")
            readers, _ = _ingest_once(
                "readers", corpus, args.copies, scratch, prefect_home, api_url, readers=True
            )
            baseline = None
            if baseline_ref is not None:
                _progress(f"baseline: the same ingest with the code at {baseline_ref} ...")
                with baseline_checkout(baseline_ref) as tree:
                    baseline, _ = _ingest_once(
                        "baseline", corpus, args.copies, scratch, prefect_home, api_url, baseline_tree=tree
                    )
            scaled = None
            if args.scale > 0:
                scaled, _ = _ingest_once(
                    "scaled", corpus, args.copies * args.scale, scratch, prefect_home, api_url
                )
        report = Report(
            args.corpus,
            corpus_size,
            args.copies,
            args.scale,
            measured["limit"],
            measured["peer"],
            first,
            second,
            scaled,
            command,
            "temporary" if args.temporary_server else "server",
            baseline_ref,
            baseline,
            readers,
        )
        lines = report_lines(report)
        print("\n".join(lines), flush=True)
        matched = any(line.strip() == "row counts matched: yes" for line in lines)
        readers_failed = any(
            line.startswith("  readers during an ingest:") and "FAILED" in line for line in lines
        )
        return 0 if matched and not readers_failed else 1
    finally:
        if args.keep:
            _progress(f"kept {scratch}")
        else:
            _remove(scratch)


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
