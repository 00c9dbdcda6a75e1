"""The speed bench's result tables: the labelled report and the limit-then-ingest ratios."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.lake import baseline_rows, files_row, reader_row
from bench.speed_ingest import HOST_CONCURRENCY, PROJECT, SAMPLE_SECONDS, IngestRun, _mib
from bench.speed_limit import LimitResult
from bench.speed_peer import PEER_PARALLEL, PeerResult


def _rate(pages: int, seconds: float | None) -> str:
    return f"{pages / seconds:,.1f}" if seconds else "n/a"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return f"{numerator / denominator:.2f}x" if numerator and denominator else "n/a"


def _seconds(value: float | None) -> str:
    return f"{value:,.1f}" if value is not None else "n/a"


def _git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Align a table: text columns left, number columns right.

    Args:
        header: Column names.
        rows: Cells.
        left: Columns counted from the right that are text too (the first column always is).

    Returns:
        The table's lines.
    """
    count = len(header)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(count)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i == 0 or i >= count - left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def breakdown_lines(run: IngestRun) -> list[str]:
    """Per task name: runs, summed running time and when the first started / last ended (flow clock)."""
    if not run.kinds:
        return [f"(no task-run details for {run.label}: Prefect database unreadable)"]
    rows = [
        [
            k.kind,
            f"{k.runs:,}",
            f"{k.busy_seconds:,.1f}",
            f"{k.early_mean:,.2f}",
            f"{k.late_mean:,.2f}",
            f"{k.first_start:,.1f}",
            f"{k.last_end:,.1f}",
        ]
        for k in run.kinds
    ]
    header = ["task", "runs", "s (sum)", "s/run first 20%", "s/run last 20%", "first start", "last end"]
    return format_table(header, rows, left=0)


def cpu_lines(runs: Sequence[IngestRun]) -> list[str]:
    """Per run: CPU seconds of the main process, the Prefect server and worker processes, and the load.

    Returns:
        A table's lines.
    """
    cpus = os.cpu_count() or 1
    kinds = ["main", "prefect server", "worker processes", "other"]
    rows = [
        [
            run.label,
            _seconds(run.seconds),
            *(_seconds(run.cpu.get(kind, 0.0)) for kind in kinds),
            f"{sum(run.cpu.values()) / (run.seconds * cpus):.0%}",
            f"{run.load_after:.1f}",
        ]
        for run in runs
    ]
    header = ["run", "wall s", *kinds, f"of {cpus} CPUs", "load avg 1 min at end"]
    return format_table(header, rows, left=0)


@dataclass
class Report:
    """Everything one benchmark run measured."""

    corpus: Path
    corpus_pages: int
    copies: int
    scale: int
    limit: LimitResult
    peer: PeerResult
    first: IngestRun
    second: IngestRun
    scaled: IngestRun | None
    command: str
    prefect: str = "server"  # "server": runs report to a running prefect server; "temporary": their own
    baseline_ref: str | None = None  # the same ingest with the code at this commit (before the lake)
    baseline: IngestRun | None = None
    readers: IngestRun | None = None  # the same ingest again, with `wirehouse query` polling alongside


def storage_rows(report: Report) -> list[list[str]]:
    """The table rows about storage: readers during run 1, lake files, and the pre-lake baseline."""
    first = report.first
    rows: list[list[str]] = []
    if report.readers is not None and report.readers.readers is not None:
        rows.append(reader_row(report.readers.readers, report.readers.pages, report.readers.flow_seconds))
    if first.files is not None:
        rows.append(files_row(first.files))
    if report.baseline_ref is None:
        rows.append(["baseline before the lake", "", "", "", "", "skipped (no --baseline-ref)"])
    elif report.baseline is not None:
        baseline = report.baseline
        rows += baseline_rows(
            report.baseline_ref,
            first.pages,
            baseline.flow_seconds if baseline.returncode == 0 else None,
            first.flow_seconds,
        )
    return rows


def report_lines(report: Report) -> list[str]:
    """The final, labelled result table with checks and the command to reproduce it.

    Returns:
        Lines to print.
    """
    first, second, scaled, limit, peer = report.first, report.second, report.scaled, report.limit, report.peer
    pages = first.pages
    how_wall = (
        "process wall, incl. Prefect temporary server start/stop"
        if report.prefect == "temporary"
        else "process wall (python start, imports, flow), Prefect server already running"
    )
    rows: list[list[str]] = [
        [
            f"limit: trafilatura+langdetect, {limit.workers} processes",
            f"{limit.pages:,}",
            _seconds(limit.seconds),
            _rate(limit.pages, limit.seconds),
            "",
            f"Pool.map wall, warm workers (start-up excluded); {limit.with_text:,} with text",
        ],
        [
            f"peer: trafilatura CLI --parallel {PEER_PARALLEL}",
            f"{peer.pages:,}",
            _seconds(peer.seconds),
            _rate(peer.pages, peer.seconds),
            "",
            f"process wall; exit {peer.returncode}; {peer.with_text:,} with text, "
            f"{peer.failed_downloads} downloads failed",
        ],
        [
            f"wirehouse ingest, K={report.copies}",
            f"{pages:,}",
            _seconds(first.seconds),
            _rate(pages, first.seconds),
            _mib(first.peak_rss),
            how_wall,
        ],
        [
            "wirehouse ingest, in-flow only",
            f"{pages:,}",
            _seconds(first.flow_seconds),
            _rate(pages, first.flow_seconds),
            "",
            f"flow's own time; start-up {_seconds(first.startup_seconds)} s, "
            f"teardown {_seconds(first.teardown_seconds)} s",
        ],
        [
            "wirehouse 2nd run, unchanged feeds",
            "0",
            _seconds(second.seconds),
            "",
            _mib(second.peak_rss),
            f"{second.seconds / first.seconds:.0%} of the first run; in-flow {_seconds(second.flow_seconds)} s",
        ],
    ]
    if scaled is not None:
        rows += [
            [
                f"wirehouse ingest, {report.scale}xK={report.copies * report.scale}",
                f"{scaled.pages:,}",
                _seconds(scaled.seconds),
                _rate(scaled.pages, scaled.seconds),
                _mib(scaled.peak_rss),
                how_wall,
            ],
            [
                "wirehouse ingest, in-flow only",
                f"{scaled.pages:,}",
                _seconds(scaled.flow_seconds),
                _rate(scaled.pages, scaled.flow_seconds),
                "",
                f"flow's own time; start-up {_seconds(scaled.startup_seconds)} s",
            ],
        ]
    else:
        rows.append([f"wirehouse ingest, scale x{report.scale}", "", "", "", "", "skipped (--scale 0)"])
    rows += storage_rows(report)
    rows_ok = first.rows_after == pages and first.returncode == 0
    second_ok = second.rows_after == first.rows_after and second.returncode == 0
    scaled_ok = scaled is None or (scaled.rows_after == scaled.pages and scaled.returncode == 0)
    lines = [
        "",
        f"== speed benchmark: {report.corpus_pages} pages of {report.corpus} x K={report.copies} copies "
        f"= {pages:,} pages, served on loopback ==",
        f"machine: {os.cpu_count()} CPUs, {_mib(psutil.virtual_memory().total)} RAM, Python "
        f"{platform.python_version()}; wirehouse tree {_git_state()}",
        "",
        *format_table(["measure", "pages", "seconds", "pages/s", "peak RSS", "how"], rows, left=1),
        "",
        "ratios (pages/s):",
        f"  wirehouse/limit  {_ratio(first.pages_per_second, limit.pages / limit.seconds)} (process wall), "
        f"{_ratio(first.flow_pages_per_second, limit.pages / limit.seconds)} (in-flow"
        + (", Prefect server already running" if report.prefect == "server" else ", temporary server")
        + f"; target {TARGET_RATIO}x in-flow)",
        f"  wirehouse/peer   {_ratio(first.pages_per_second, peer.pages / peer.seconds)} (process wall), "
        f"{_ratio(first.flow_pages_per_second, peer.pages / peer.seconds)} (in-flow)",
        f"  second run time  {second.seconds / first.seconds:.0%} of the first run",
        "",
        "checks:",
        f"  articles rows after run 1: {first.rows_after} for {pages} pages "
        f"({first.rows_ok} extracted ok) -> {'OK' if rows_ok else 'MISMATCH'}",
        f"  articles rows after run 2: {second.rows_after} (no new row expected) "
        f"-> {'OK' if second_ok else 'MISMATCH'}",
    ]
    if scaled is not None:
        lines.append(
            f"  articles rows after the x{report.scale} run: {scaled.rows_after} for {scaled.pages} pages "
            f"({scaled.rows_ok} extracted ok) -> {'OK' if scaled_ok else 'MISMATCH'}"
        )
    lines.append(f"  row counts matched: {'yes' if rows_ok and second_ok and scaled_ok else 'NO'}")
    if report.readers is not None and report.readers.readers is not None:
        seen = report.readers.readers
        readers_ok = seen.errors == 0 and seen.never_down and report.readers.returncode == 0
        lines.append(
            f"  readers during an ingest: {seen.queries} queries, {seen.errors} errors, count "
            f"{'never went down' if seen.never_down else 'WENT DOWN'} -> {'OK' if readers_ok else 'FAILED'}"
        )
    lines += [
        "",
        "prefect task runs (counted in the run's own Prefect database, PREFECT_HOME private to the bench;"
        " cross-checked against 'Task run ... Finished' log lines):",
        f"  run 1: {first.task_runs_db if first.task_runs_db is not None else 'n/a'} in the database, "
        f"{first.task_runs_logged} logged",
        f"  run 2: {second.task_runs_db if second.task_runs_db is not None else 'n/a'} in the database, "
        f"{second.task_runs_logged} logged",
    ]
    if scaled is not None:
        lines.append(
            f"  x{report.scale} run: {scaled.task_runs_db if scaled.task_runs_db is not None else 'n/a'} "
            f"in the database, {scaled.task_runs_logged} logged"
        )
    lines += ["", "CPU seconds (user + system) by process of the wirehouse tree, and the machine's load:"]
    lines += [f"  {line}" for line in cpu_lines([first, second, *([scaled] if scaled else [])])]
    for run in [first, *([scaled] if scaled else [])]:
        lines += [
            "",
            f"task runs of '{run.label}' (Running -> end, incl. waits for a host slot or a worker; "
            "start/end on the flow's clock):",
        ]
        lines += [f"  {line}" for line in breakdown_lines(run)]
    lines += [
        "",
        "notes: limit = trafilatura.bare_extraction(with_metadata=True) + langdetect.detect_langs over the "
        "page files (gunzipped in the workers), no HTTP, no storage;",
        "       peer = trafilatura CLI (JSON with metadata, SSRF_PROTECTION off, SLEEP_TIME 0) fetching the "
        "URLs; it draws one URL per host per round, so on one host it fetches one page at a time;",
        f"       wirehouse env: WIREHOUSE_HOST_DELAY=0 HOST_CONCURRENCY={HOST_CONCURRENCY} ROBOTS=off, "
        + (
            "no PREFECT_API_URL (temporary server per run); peak RSS = sum over the process tree (incl. "
            "the Prefect server), "
            if report.prefect == "temporary"
            else "PREFECT_API_URL = the bench's `prefect server start`; peak RSS = sum over the ingest's "
            "process tree (the server is not in it), "
        )
        + f"sampled every {SAMPLE_SECONDS} s.",
        "",
        f"reproduce (from the project root): {report.command}",
    ]
    return lines


# Where ingest must land against the limit, in-flow with the Prefect server already running (issue 15).
TARGET_RATIO = 0.9


def ratio_lines(
    pairs: Sequence[tuple[LimitResult, IngestRun, IngestRun | None]], ref: str | None = None
) -> list[str]:
    """One line per limit-then-ingest pair, then the median in-flow ratio against the target.

    Args:
        pairs: Each limit measurement with the ingest run right after it, and (with ``ref``) the
            same ingest with the code at ``ref`` right after that.
        ref: The other code's git ref, if it ran.

    Returns:
        Lines to print.
    """
    rows = []
    ratios: dict[str, list[float]] = {"this tree": [], f"code at {ref}": []}
    for number, (limit, *runs) in enumerate(pairs, start=1):
        limit_rate = limit.pages / limit.seconds
        for label, run in zip(ratios, runs, strict=False):
            if run is None:
                continue
            flow_rate = run.flow_pages_per_second
            if flow_rate is not None and run.returncode == 0 and run.rows_after == run.pages:
                ratios[label].append(flow_rate / limit_rate)
            rows.append(
                [
                    str(number),
                    label,
                    f"{limit_rate:.1f}",
                    _seconds(run.flow_seconds),
                    _rate(run.pages, run.flow_seconds),
                    _ratio(flow_rate, limit_rate),
                    _ratio(run.pages_per_second, limit_rate),
                    f"{run.rows_after}/{run.pages}"
                    + ("" if run.returncode == 0 else f" exit {run.returncode}"),
                    f"{run.load_after:.1f}",
                ]
            )
    header = [
        "pair",
        "ingest",
        "limit p/s",
        "in-flow s",
        "in-flow p/s",
        "in-flow/limit",
        "wall/limit",
        "rows",
        "load",
    ]
    lines = format_table(header, rows, left=2)
    for label, found in ratios.items():
        if not found:
            continue
        found.sort()
        median = found[len(found) // 2]
        verdict = "meets" if median >= TARGET_RATIO else "misses"
        lines.append(
            f"ingest ({label}) vs the naive limit, in-flow, Prefect server already running: median "
            f"{median:.2f}x of {len(found)} pairs ({verdict} the {TARGET_RATIO}x target)"
        )
    return lines
