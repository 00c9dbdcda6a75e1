"""The ingest runs of the speed bench: `wirehouse ingest` subprocesses, their Prefect server and their task runs."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.lake import FileCounts
from bench.processes import TreeSampler, kill_tree
from tests.support.readers import ReaderStats

PROJECT = Path(__file__).resolve().parent.parent
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


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB"


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
