"""The soak: hundreds of consecutive ingests into one lake, as a 15-minute schedule makes them.

A newsroom on 127.0.0.1 publishes new articles before every run (a few per feed, some of them wire
copies of another desk's story of the last three days; each feed lists its newest items only). Each
run is a `wirehouse ingest` process reporting to one Prefect server, as a deployment's runs are; the
maintenance flow runs every ``--maintenance-every`` runs (96: once a day of 15-minute runs). Per run the
bench records process wall time, the flow process's own CPU (its workers apart), the catalog's and
key index's size, the lake's live and on-disk Parquet files, and a `wirehouse query`'s latency (process
start included), and checks that no URL is stored twice.

It then compares the last 50 runs with the first 50 (the issue's "no upward trend": medians within
15 %), and shows the files and catalog before and after each maintenance run.

Time in the soak is compressed (a run every few seconds, not every 15 minutes), so the maintenance
flow keeps snapshots for the real time of the last ``--keep-runs`` runs (96: a simulated day) instead
of its 7 days, with no file grace; otherwise nothing would ever expire within the soak.

    python -m bench.soak               # 300 runs (about 25 to 30 minutes on 2 cores)
    python -m bench.soak --runs 30     # a short version
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import html
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from bench.lake import parquet_files
from bench.lakegen import body, edited, words
from bench.speed_ingest import prefect_server, prepare_prefect_home, run_ingest, wirehouse_env
from tests.support.readers import query_command

FEEDS = 6
PER_FEED = 3  # new articles per feed before each run: 18 a run, about 1,700 a day
WINDOW = 30  # items a feed lists (its newest)
COPY_SHARE = 0.07  # new articles that are wire copies of another desk's recent one
COPY_WINDOW_RUNS = 288  # three days of 15-minute runs
RUN_MINUTES = 15  # simulated time between runs (publication dates advance by it)
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
QUERY = "select count(*), count(distinct url) from articles"


def _progress(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------ newsroom


@dataclass(frozen=True)
class Page:
    """One published article."""

    feed: int
    item: int
    title: str
    text: str
    published: datetime


@dataclass
class Newsroom:
    """Desks that keep publishing: ``publish()`` before each run adds PER_FEED articles to every feed."""

    feeds: int = FEEDS
    seed: int = 20261207
    pages: dict[tuple[int, int], Page] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)
    runs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.counts = [0] * self.feeds
        self._rng = np.random.default_rng(self.seed)

    def publish(self) -> int:
        """Publish the next run's articles.

        Returns:
            How many were published.
        """
        vocab = words()
        now = START + timedelta(minutes=RUN_MINUTES * self.runs)
        made = 0
        with self.lock:
            for feed in range(self.feeds):
                for _ in range(PER_FEED):
                    item = self.counts[feed]
                    original = self._recent_original(feed)
                    if original is not None and self._rng.random() < COPY_SHARE:
                        place = vocab.places[int(self._rng.integers(len(vocab.places)))]
                        title = original.title
                        text = edited(original.text, self._rng, f"{place} (dpa) - ")
                    else:
                        title = " ".join(vocab.draw(self._rng, int(self._rng.integers(5, 11)))).capitalize()
                        text = body(self._rng)
                    self.pages[(feed, item)] = Page(feed, item, title, text, now)
                    self.counts[feed] = item + 1
                    made += 1
            self.runs += 1
        return made

    def _recent_original(self, feed: int) -> Page | None:
        """Another desk's article of the last COPY_WINDOW_RUNS runs, if there is one."""
        others = [f for f in range(self.feeds) if f != feed and self.counts[f]]
        if not others:
            return None
        other = others[int(self._rng.integers(len(others)))]
        oldest = max(0, self.counts[other] - PER_FEED * COPY_WINDOW_RUNS)
        return self.pages[(other, int(self._rng.integers(oldest, self.counts[other])))]

    @property
    def published(self) -> int:
        """Articles published so far."""
        return sum(self.counts)

    def feed_xml(self, base: str, feed: int) -> bytes:
        """A feed's newest WINDOW items, newest first."""
        with self.lock:
            newest = range(self.counts[feed] - 1, max(-1, self.counts[feed] - 1 - WINDOW), -1)
            items = "".join(
                f"<item><title>{html.escape(self.pages[(feed, i)].title)}</title>"
                f"<link>{base}/a/{feed}/{i}.html</link><guid>{base}/a/{feed}/{i}.html</guid>"
                f"<pubDate>{format_datetime(self.pages[(feed, i)].published)}</pubDate></item>"
                for i in newest
            )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {feed}</title>'
            f"<link>{base}/</link>{items}</channel></rss>"
        ).encode()

    def page_html(self, feed: int, item: int) -> bytes | None:
        """An article page, or None when it is not published (yet)."""
        with self.lock:
            page = self.pages.get((feed, item))
        if page is None:
            return None
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in page.text.split("\n"))
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(page.title)}'
            f'</title><meta property="article:published_time" content="{page.published.isoformat()}">'
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
            f"<h1>{html.escape(page.title)}</h1>{paragraphs}</article><footer>Desk {feed}</footer>"
            "</body></html>"
        ).encode()


@contextlib.contextmanager
def serve(newsroom: Newsroom) -> Iterator[str]:
    """Serve the newsroom on 127.0.0.1 for the length of the block; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://{self.headers['Host']}"  # the address the client asked for
            parts = urlsplit(self.path).path.strip("/").split("/")
            body: bytes | None = None
            kind = "text/html; charset=utf-8"
            with contextlib.suppress(ValueError, IndexError):
                if parts[0] == "feed" and len(parts) == 2:
                    feed = int(parts[1].removesuffix(".xml"))
                    if 0 <= feed < newsroom.feeds:
                        body, kind = newsroom.feed_xml(base, feed), "application/rss+xml"
                elif parts[0] == "a" and len(parts) == 3:
                    body = newsroom.page_html(int(parts[1]), int(parts[2].removesuffix(".html")))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_error(self, *args: object) -> None:  # a client that went away mid-answer
            pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------ one run


@dataclass(frozen=True)
class RunRow:
    """What one run of the soak cost and left behind."""

    run: int
    published: int
    wall_s: float
    flow_cpu_s: float
    worker_cpu_s: float
    rows: int
    distinct_urls: int
    query_s: float
    catalog_mb: float
    keys_mb: float
    live_files: int
    disk_files: int
    load: float = 0.0  # the 1-minute load average after the run: other work on the machine
    maintenance: str = ""


def live_files(catalog: Path) -> int:
    """Data and delete files the catalog's current snapshot lists (SQLite catalog, read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as con:
        (data,) = con.execute("SELECT count(*) FROM ducklake_data_file WHERE end_snapshot IS NULL").fetchone()
        (deletes,) = con.execute(
            "SELECT count(*) FROM ducklake_delete_file WHERE end_snapshot IS NULL"
        ).fetchone()
    return int(data) + int(deletes)


def _mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    return total / 2**20


def query_once(warehouse: Path, env: dict[str, str], cwd: Path) -> tuple[float, int, int]:
    """Run `wirehouse query` as a user would; its wall time and the rows / distinct URLs it counted."""
    started = time.perf_counter()
    done = subprocess.run(
        query_command(warehouse, QUERY), env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"wirehouse query failed: {done.stderr.strip()[-300:]}")
    rows, distinct = done.stdout.strip().splitlines()[-1].split(",")
    return seconds, int(rows), int(distinct)


def run_maintenance(warehouse: Path, env: dict[str, str], cwd: Path, keep_seconds: float) -> str:
    """Run the maintenance flow (as its deployment does), keeping ``keep_seconds`` of snapshots.

    Returns:
        Its log's lake-files line.
    """
    code = (
        "import sys; from flows.maintenance import maintenance; "
        "maintenance(warehouse=sys.argv[1], export_dir=None, keep_snapshots_days=float(sys.argv[2]), "
        "file_grace_minutes=0.0, orphan_grace_hours=0.0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse), repr(keep_seconds / 86400)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"maintenance failed: {done.stderr.strip()[-500:]}")
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "lake files" in line]
    return lines[-1].split(" - ", 1)[-1].strip() if lines else "ran"


# ------------------------------------------------------------------------------------------ report


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def block_table(rows: Sequence[RunRow], block: int) -> str:
    """Medians per block of ``block`` runs."""
    lines = [
        "| runs | articles | wall s | flow CPU s | worker CPU s | query s | catalog MB | key index MB "
        "| live files | files on disk | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        lines.append(
            f"| {part[0].run}-{part[-1].run} | {part[-1].rows:,} | {_median([r.wall_s for r in part]):.2f} "
            f"| {_median([r.flow_cpu_s for r in part]):.2f} | {_median([r.worker_cpu_s for r in part]):.2f} "
            f"| {_median([r.query_s for r in part]):.2f} | {max(r.catalog_mb for r in part):.1f} "
            f"| {max(r.keys_mb for r in part):.1f} | {max(r.live_files for r in part)} "
            f"| {max(r.disk_files for r in part)} | {_median([r.load for r in part]):.1f} |"
        )
    return "\n".join(lines)


def trend(rows: Sequence[RunRow], span: int = 50) -> str:
    """The last ``span`` runs against the first ``span`` (run 1 left out: it imports the feed list)."""
    steady = list(rows[1:])
    span = min(span, len(steady) // 2)
    if span < 1:
        return "too few runs for a trend"
    first, last = steady[:span], steady[-span:]
    lines = [f"| median of {span} runs | first | last | last : first |", "|---|---:|---:|---:|"]
    verdicts = []
    for name, attribute in (("wall s", "wall_s"), ("flow CPU s", "flow_cpu_s"), ("query s", "query_s")):
        a = _median([float(getattr(r, attribute)) for r in first])
        b = _median([float(getattr(r, attribute)) for r in last])
        ratio = b / a if a else 0.0
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {ratio:.2f} |")
        if name != "query s":
            verdicts.append(ratio <= 1.15)
    lines.append("")
    lines.append(
        "no upward trend (wall and flow CPU within 15 %)" if all(verdicts) else "UPWARD TREND (over 15 %)"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


def soak(runs: int, maintenance_every: int, keep_runs: int, work: Path, csv_path: Path | None) -> int:
    """Run the soak in ``work``; print its tables. Returns the exit status (1 on a duplicate or failed run)."""
    warehouse = work / "news.sqlite"
    prefect_home = work / "prefect"
    newsroom = Newsroom()
    env = wirehouse_env(prefect_home, WINDOW * FEEDS)
    prepare_prefect_home(prefect_home, env)
    rows: list[RunRow] = []
    starts: list[float] = []  # epoch seconds each run started
    status = 0
    with serve(newsroom) as base, prefect_server(prefect_home, work / "prefect-server.log") as api:
        env = wirehouse_env(prefect_home, WINDOW * FEEDS, api)
        opml = work / "feeds.opml"
        outlines = "".join(f'<outline type="rss" xmlUrl="{base}/feed/{n}.xml"/>' for n in range(FEEDS))
        opml.write_text(f"<opml version='2.0'><body>{outlines}</body></opml>", encoding="utf-8")
        for number in range(1, runs + 1):
            new = newsroom.publish()
            feeds = ["--feeds", str(opml)] if number == 1 else []
            starts.append(time.time())
            run = run_ingest(
                f"run {number}", ["ingest", *feeds, "--warehouse", str(warehouse)], env, work, new
            )
            if run.returncode != 0:
                _progress(f"run {number} exited {run.returncode}; log: {run.log.strip()[-400:]}")
                return 1
            query_s, stored, distinct = query_once(warehouse, env, work)
            note = ""
            if maintenance_every and number % maintenance_every == 0:
                before = (live_files(warehouse), _mb(warehouse))
                note = run_maintenance(warehouse, env, work, time.time() - starts[-keep_runs])
                note = f"{note}; catalog {before[1]:.1f} -> {_mb(warehouse):.1f} MB"
                _progress(f"maintenance after run {number}: {note}")
            row = RunRow(
                run=number,
                published=newsroom.published,
                wall_s=run.seconds,
                flow_cpu_s=run.cpu.get("main", 0.0),
                worker_cpu_s=run.cpu.get("worker processes", 0.0),
                rows=stored,
                distinct_urls=distinct,
                query_s=query_s,
                catalog_mb=_mb(warehouse),
                keys_mb=_mb(warehouse.with_name(warehouse.stem + ".keys")),
                live_files=live_files(warehouse),
                disk_files=parquet_files(warehouse.with_name(warehouse.stem + ".data")),
                load=os.getloadavg()[0],
                maintenance=note,
            )
            rows.append(row)
            run.log = ""  # the logs of hundreds of runs are not kept in memory
            if stored != distinct or stored > newsroom.published:
                _progress(f"run {number}: {stored} rows for {distinct} distinct URLs — a duplicate")
                status = 1
            if number % 10 == 0 or number == 1:
                _progress(
                    f"run {number}/{runs}: {row.wall_s:.1f} s, flow CPU {row.flow_cpu_s:.2f} s, "
                    f"{stored:,} stored of {newsroom.published:,} published, query {query_s:.2f} s, "
                    f"{row.live_files} live files"
                )
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
    print()
    print(
        f"Soak: {runs} ingest runs, {FEEDS} feeds x {PER_FEED} new articles before each run "
        f"({COPY_SHARE:.0%} wire copies), maintenance every {maintenance_every} runs keeping "
        f"{keep_runs} runs of snapshots; one Prefect server"
    )
    print()
    print(block_table(rows, max(1, min(25, runs // 6 or 1))))
    print()
    print(trend(rows))
    done = [r for r in rows if r.maintenance]
    if done:
        print()
        print("| after run | maintenance |")
        print("|---|---|")
        for r in done:
            print(f"| {r.run} | {r.maintenance} |")
    last = rows[-1]
    print()
    print(
        f"stored {last.rows:,} of {last.published:,} published, {last.distinct_urls:,} distinct URLs"
        + ("" if last.rows == last.distinct_urls else " — DUPLICATES")
    )
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bench.soak [--runs N] [--work DIR] [--csv FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="consecutive ingest runs (default 300)")
    parser.add_argument("--maintenance-every", type=int, default=96, help="runs between maintenance runs")
    parser.add_argument("--keep-runs", type=int, default=96, help="runs of snapshots the maintenance keeps")
    parser.add_argument("--work", type=Path, help="folder for the lake and logs (default: a temporary one)")
    parser.add_argument("--csv", type=Path, help="write one row per run here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        return soak(args.runs, args.maintenance_every, args.keep_runs, args.work, args.csv)
    with tempfile.TemporaryDirectory(prefix="wirehouse-soak-") as tmp:
        return soak(args.runs, args.maintenance_every, args.keep_runs, Path(tmp), args.csv)


if __name__ == "__main__":
    sys.exit(main())
