"""Speed and scale on one machine: wirehouse against plain trafilatura on loopback-served corpus pages."""

from __future__ import annotations

import argparse
import configparser
import contextlib
import gzip
import importlib.util
import json
import multiprocessing
import os
import platform
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psutil

from bench.lake import (
    FileCounts,
    QueryPoller,
    ReaderStats,
    baseline_checkout,
    baseline_rows,
    default_baseline_ref,
    files_row,
    query_command,
    reader_row,
    reader_stats,
    upkeep_files,
)
from bench.processes import TreeSampler, kill_tree
from tests.support.corpus_site import CorpusPage, load_truth, serve_corpus

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT.parent / "shared" / "corpora" / "fundus"
DEFAULT_COPIES = 8  # 126 pages x 8 = 1,008 pages
DEFAULT_SCALE = 10
LIMIT_WORKERS = 2
PEER_PARALLEL = 4
HOST_CONCURRENCY = 16
SAMPLE_SECONDS = 0.2
PROGRESS_SECONDS = 30.0

_SUMMARY_SECONDS = re.compile(r"^warehouse: .* \((\d+(?:\.\d+)?) s\)\s*$", re.MULTILINE)
_FLOW_RUN_NAME = re.compile(r"Flow run '([^']+)' - Beginning flow run")
_TASK_FINISHED = re.compile(r"Task run '([^']+)' - Finished in state")
# Task run names are "<task-name>-<3 hex>" or "<task-name> <parameter>", e.g. "ingest-batch 3".
_TASK_KIND = re.compile(r"^(?P<kind>.+?)(?:-[0-9a-f]{3})?(?: .*)?$")


def _progress(message: str) -> None:
    print(f"[speed {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class LimitResult:
    """Plain trafilatura + langdetect in a process pool over the page files."""

    pages: int
    seconds: float
    with_text: int
    workers: int


@dataclass(frozen=True)
class PeerResult:
    """The trafilatura command line over the served URLs."""

    pages: int
    seconds: float
    discarded: int  # downloaded, but trafilatura found no text ("discarding data" warnings)
    failed_downloads: int  # "No result for URL" warnings
    returncode: int

    @property
    def with_text(self) -> int:
        """Pages that gave text."""
        return self.pages - self.discarded - self.failed_downloads


@dataclass(frozen=True)
class TaskKind:
    """Prefect task runs of one task name within a flow run."""

    kind: str
    runs: int
    busy_seconds: float
    first_start: float
    last_end: float
    early_mean: float  # mean seconds of the first fifth of the runs (by start), and of the last fifth
    late_mean: float


@dataclass
class IngestRun:
    """One `wirehouse ingest` subprocess."""

    label: str
    pages: int
    seconds: float
    returncode: int
    peak_rss: int
    log: str
    started_at: float = 0.0  # epoch seconds of process start and end
    ended_at: float = 0.0
    flow_seconds: float | None = None
    rows_after: int | None = None
    rows_ok: int | None = None
    task_runs_db: int | None = None
    task_runs_logged: int = 0
    startup_seconds: float | None = None
    teardown_seconds: float | None = None
    kinds: list[TaskKind] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per kind of process in the tree
    load_after: float = 0.0  # 1-minute load average when the run ended (other work on the machine)
    readers: ReaderStats | None = None  # `wirehouse query` processes run alongside, when asked
    files: FileCounts | None = None  # the lake's files after this run (and its second run), and after upkeep

    @property
    def pages_per_second(self) -> float:
        """Pages per second of process wall time."""
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def flow_pages_per_second(self) -> float | None:
        """Pages per second of the flow's own wall time (Prefect's server start-up excluded)."""
        return self.pages / self.flow_seconds if self.flow_seconds else None


# ------------------------------------------------------------------------------------------ limit


def _warm_worker(barrier: Barrier) -> None:
    """Pool initializer: import and warm trafilatura and langdetect, then wait for the other workers."""
    import trafilatura
    from langdetect import DetectorFactory, detect_langs

    DetectorFactory.seed = 0
    detect_langs("Das ist ein kurzer Satz, der die Sprachprofile lädt.")  # loads the profiles once
    trafilatura.bare_extraction("<html><body><p>warm</p></body></html>", with_metadata=True)
    barrier.wait()


def extract_page(job: tuple[str, str]) -> bool:
    """Extract one gzipped page file the plain way: trafilatura with metadata, then langdetect.

    Args:
        job: ``(file path, URL the page is served at)``.

    Returns:
        Whether trafilatura found any text.
    """
    import trafilatura
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    path, url = job
    html = gzip.decompress(Path(path).read_bytes()).decode("utf-8", "replace")
    document: Any = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    text = document.text if document is not None else None
    if not text:
        return False
    with contextlib.suppress(LangDetectException):  # too little text to tell: still a page done
        detect_langs(text)
    return True


def measure_limit(pages: Sequence[CorpusPage], base: str, workers: int = LIMIT_WORKERS) -> LimitResult:
    """Time plain extraction of every page in a pool of warm worker processes.

    The clock covers ``Pool.map`` only: start-up, imports and langdetect's profile loading happen
    before it, in every worker, so the number is the steady-state throughput.

    Args:
        pages: The pages (all copies).
        base: Base URL the pages are served at (their URL is passed to trafilatura).
        workers: Worker processes.

    Returns:
        The measurement.
    """
    jobs = [(str(page.file), base + page.path) for page in pages]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    with context.Pool(workers, initializer=_warm_worker, initargs=(barrier,)) as pool:
        barrier.wait(timeout=300)
        started = time.perf_counter()
        found = pool.map(extract_page, jobs, chunksize=4)
        seconds = time.perf_counter() - started
    return LimitResult(len(jobs), seconds, sum(found), workers)


# ------------------------------------------------------------------------------------------ peer


def trafilatura_config(path: Path) -> Path:
    """Write a copy of trafilatura's settings.cfg that may fetch from loopback without delays.

    ``SSRF_PROTECTION = off`` lets it connect to 127.0.0.1 (otherwise every non-global peer address is
    refused after connect); ``SLEEP_TIME = 0`` drops the 5 s pause between two requests to one host,
    which would otherwise pace the whole run (all pages live on one host).

    Args:
        path: Where to write the file.

    Returns:
        ``path``.
    """
    spec = importlib.util.find_spec("trafilatura")
    if spec is None or spec.origin is None:
        raise RuntimeError("trafilatura is not installed")
    config = configparser.ConfigParser()
    config.optionxform = str  # type: ignore[assignment,method-assign]  # keep the upper-case keys
    config.read(Path(spec.origin).parent / "settings.cfg", encoding="utf-8")
    for key in ("SSRF_PROTECTION", "SLEEP_TIME"):
        if not config.has_option("DEFAULT", key):
            raise RuntimeError(f"trafilatura's settings.cfg has no {key}: check the peer configuration")
    config["DEFAULT"]["SSRF_PROTECTION"] = "off"
    config["DEFAULT"]["SLEEP_TIME"] = "0"
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)
    return path


def peer_command(urls_file: Path, output_dir: Path, config_file: Path) -> list[str]:
    """The trafilatura command line the peer measurement runs."""
    executable = Path(sys.executable).parent / "trafilatura"
    return [
        str(executable),
        "-i",
        str(urls_file),
        "--parallel",
        str(PEER_PARALLEL),
        "-o",
        str(output_dir),
        "--output-format",
        "json",
        "--with-metadata",
        "--config-file",
        str(config_file),
    ]


def measure_peer(urls: Sequence[str], workdir: Path) -> PeerResult:
    """Time the trafilatura command line downloading and extracting every URL.

    Args:
        urls: The served page URLs.
        workdir: A scratch folder.

    Returns:
        The measurement.
    """
    urls_file = workdir / "urls.txt"
    urls_file.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    output_dir = workdir / "peer-output"
    command = peer_command(urls_file, output_dir, trafilatura_config(workdir / "trafilatura.cfg"))
    with (workdir / "peer.log").open("wb") as log:
        started = time.perf_counter()
        completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.perf_counter() - started
    # Output files are named by a hash of their content, so copies of a page share one file: count
    # the CLI's own warnings instead (it logs at WARNING by default).
    text = (workdir / "peer.log").read_text(encoding="utf-8", errors="replace")
    return PeerResult(
        len(urls),
        seconds,
        text.count("discarding data"),
        text.count("No result for URL"),
        completed.returncode,
    )


# ------------------------------------------------------------------------------------------ wirehouse


def wirehouse_env(prefect_home: Path, pages: int, api_url: str | None = None) -> dict[str, str]:
    """A clean environment for `wirehouse ingest`: no inherited WIREHOUSE_*/PREFECT_* settings.

    Prefect gets a private ``PREFECT_HOME`` (its own SQLite database, no user profile), so the task
    runs it records can be counted afterwards. With ``api_url`` the runs report to the bench's own
    ``prefect server start`` (as scheduled deployment runs do); without it each run starts Prefect's
    temporary server, as a first-time user's ad-hoc run would.

    Args:
        prefect_home: The private Prefect home.
        pages: Pages served (every one of them must be taken in one run).
        api_url: The bench's Prefect server, or None for a temporary server per run.

    Returns:
        The environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIREHOUSE_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(prefect_home),
        WIREHOUSE_ALLOW_PRIVATE_HOSTS="127.0.0.1",
        WIREHOUSE_HOST_DELAY="0",
        WIREHOUSE_HOST_CONCURRENCY=str(HOST_CONCURRENCY),
        WIREHOUSE_ROBOTS="off",
        WIREHOUSE_MAX_NEW_PER_FEED=str(max(100_000, pages)),
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
        # What the project sets for itself, set here too for the separately started server.
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextlib.contextmanager
def prefect_server(prefect_home: Path, log_path: Path) -> Iterator[str]:
    """Run ``prefect server start`` on a free loopback port for the length of the block (not timed).

    Args:
        prefect_home: The private Prefect home (its database is the one the runs are counted in).
        log_path: Where the server's output goes.

    Yields:
        The API URL.

    Raises:
        RuntimeError: When the server does not answer within two minutes.
    """
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    env = wirehouse_env(prefect_home, 0)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start; see {log_path}")
            time.sleep(0.5)
        yield url
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_tree(popen)


def prepare_prefect_home(prefect_home: Path, env: dict[str, str]) -> None:
    """Create and migrate the private Prefect database outside the timed runs (about 10 s).

    Raises:
        RuntimeError: When the migration fails.
    """
    prefect_home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "prefect", "--no-prompt", "server", "database", "upgrade", "-y"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"prefect database upgrade failed: {done.stderr.strip()[-500:]}")


def _watch(
    popen: subprocess.Popen[bytes], log_path: Path, label: str, sampler: TreeSampler, started: float
) -> None:
    """Sample the tree every SAMPLE_SECONDS until the process ends; print progress now and then."""
    next_note = started + PROGRESS_SECONDS
    while popen.poll() is None:
        rss = sampler.sample()
        now = time.perf_counter()
        if now >= next_note:
            next_note += PROGRESS_SECONDS
            text = log_path.read_text(encoding="utf-8", errors="replace")
            loaded = len(re.findall(r"Task run 'ingest-batch[^']*' - Finished", text))
            feeds = len(re.findall(r"Task run 'fetch-feed[^']*' - Finished", text))
            _progress(
                f"  {label}: {now - started:.0f} s, tree RSS now {_mib(rss)}, "
                f"{feeds} feeds fetched, {loaded} batches loaded"
            )
        time.sleep(SAMPLE_SECONDS)


def run_ingest(
    label: str, arguments: Sequence[str], env: dict[str, str], workdir: Path, pages: int
) -> IngestRun:
    """Run `wirehouse ingest` as a subprocess, timing it and sampling the RSS of its process tree.

    Args:
        label: Name of the run (for progress lines and the log file).
        arguments: Arguments after ``wirehouse``.
        env: Its environment.
        workdir: Its working directory (so no wirehouse.toml of the caller applies) and log folder.
        pages: Pages this run is expected to ingest.

    Returns:
        The run, with its log; the warehouse and Prefect checks are filled in by the caller.
    """
    command = [sys.executable, "-m", "wirehouse.cli", *arguments]
    log_path = workdir / f"{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        wall_started = time.time()
        popen = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(popen.pid)
        watcher = threading.Thread(
            target=_watch, args=(popen, log_path, label, sampler, started), daemon=True
        )
        watcher.start()
        try:
            returncode = popen.wait()
        except BaseException:
            kill_tree(popen)
            raise
        seconds = time.perf_counter() - started
        wall_ended = time.time()
        watcher.join()
    text = log_path.read_text(encoding="utf-8", errors="replace")
    run = IngestRun(label, pages, seconds, returncode, sampler.peak_rss, text, wall_started, wall_ended)
    run.cpu = sampler.cpu_by_kind()
    run.load_after = os.getloadavg()[0]
    found = _SUMMARY_SECONDS.findall(text)
    run.flow_seconds = float(found[-1]) if found else None
    run.task_runs_logged = len(_TASK_FINISHED.findall(text))
    return run


def count_articles(warehouse: Path) -> tuple[int, int]:
    """Rows of the ``articles`` view and how many of them were extracted (``ok``), read-only.

    Returns:
        ``(rows, ok rows)``; ``(0, 0)`` when the warehouse does not exist.
    """
    from warehouse.connection import read_query

    if not warehouse.is_file():
        return 0, 0
    _, rows = read_query(
        warehouse, "SELECT count(*), count(*) FILTER (WHERE extraction_status = 'ok') FROM articles"
    )
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


def _utc_epoch(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def attach_prefect_details(run: IngestRun, prefect_home: Path) -> None:
    """Count the flow run's task runs in Prefect's own database and derive start-up and teardown.

    The temporary server stops with the process, but it writes to ``PREFECT_HOME/prefect.db``, which
    stays; that file is read here read-only. Task runs are counted per task name with the seconds they
    were running. Start-up is the time from process start to the flow run's start, teardown the time
    from the flow run's end to process exit.
    """
    names = _FLOW_RUN_NAME.findall(run.log)
    database = prefect_home / "prefect.db"
    if not names or not database.is_file():
        return
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        flow = con.execute(
            "SELECT id, start_time, end_time FROM flow_run WHERE name = ? ORDER BY created DESC LIMIT 1",
            (names[-1],),
        ).fetchone()
        if flow is None:
            return
        flow_id, flow_start, flow_end = flow
        tasks = con.execute(
            "SELECT name, start_time, end_time FROM task_run WHERE flow_run_id = ?", (flow_id,)
        ).fetchall()
    except sqlite3.Error:
        return
    finally:
        con.close()
    run.task_runs_db = len(tasks)
    start, end = _utc_epoch(flow_start), _utc_epoch(flow_end)
    if start is not None:
        run.startup_seconds = start - run.started_at
    if end is not None:
        run.teardown_seconds = run.ended_at - end
    run.kinds = task_kinds(tasks, start or 0.0)


def task_kinds(tasks: Sequence[tuple[str, str | None, str | None]], origin: float) -> list[TaskKind]:
    """Group task runs by task name.

    Args:
        tasks: ``(task run name, start, end)`` with UTC timestamps as Prefect stores them.
        origin: Epoch seconds that ``first_start``/``last_end`` are counted from (the flow's start).

    Returns:
        One TaskKind per task name, in order of first start.
    """
    grouped: dict[str, list[tuple[float, float]]] = {}
    for name, start_text, end_text in tasks:
        start, end = _utc_epoch(start_text), _utc_epoch(end_text)
        if start is None or end is None:
            continue
        match = _TASK_KIND.match(name)
        kind = match.group("kind") if match else name
        grouped.setdefault(kind, []).append((start, end))
    kinds = []
    for kind, spans in grouped.items():
        spans.sort()
        fifth = max(1, len(spans) // 5)
        kinds.append(
            TaskKind(
                kind,
                len(spans),
                sum(end - start for start, end in spans),
                spans[0][0] - origin,
                max(end for _, end in spans) - origin,
                sum(end - start for start, end in spans[:fifth]) / fifth,
                sum(end - start for start, end in spans[-fifth:]) / fifth,
            )
        )
    return sorted(kinds, key=lambda k: k.first_start)


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


# ------------------------------------------------------------------------------------------ report


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB"


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
