"""Where the flow's own process spends its CPU during a K-copy ingest: cProfile in every thread.

The extraction workers are separate processes and are not profiled; this is the rest (HTTP, the
selection loop, Prefect's task runs, pickling, storing). Every thread gets its own profiler on the
thread's CPU clock, and the profiles are merged, so waiting never counts, only work.

Reproduce: ``.venv/bin/python -m bench.flow_profile --copies 8`` (prints the top functions), or with
``--top 0`` no profiler, only CPU seconds per page of the flow's process and of the worker processes
(CPU time, unlike wall time, stays comparable on a machine busy with other work).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.speed import DEFAULT_CORPUS
from bench.speed_ingest import prefect_server, prepare_prefect_home, wirehouse_env
from tests.support.corpus_site import serve_corpus


def _profile_threads() -> tuple[list[cProfile.Profile], Callable[[], None]]:
    """Give every thread started from now on a profiler on its own CPU clock; return them and an undo."""
    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]

    def undo() -> None:
        threading.Thread.run = original  # type: ignore[method-assign]

    return profiles, undo


class ThreadCpu:
    """Samples the CPU seconds of every thread of this process (Linux ``/proc``), keyed by thread name.

    Threads end during the run (each batch runner's threads end with it), so the last sample of each
    is kept; Python's thread names are read from :mod:`threading` at every sample. Threads that are
    not Python's are DuckDB's own workers.
    """

    def __init__(self, every: float = 0.25) -> None:
        """Start sampling in a daemon thread."""
        self.every = every
        self.seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._sample()
        self._before = {tid: seconds for tid, (_name, seconds) in self.seen.items()}  # imports and such
        self._thread = threading.Thread(target=self._run, name="thread-cpu-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        names = {t.native_id: t.name for t in threading.enumerate()}
        for task in Path("/proc/self/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended between listing and reading
            tid = int(task.name)
            seconds = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime
            name = names.get(tid) or self.seen.get(tid, ("(not a Python thread)", 0.0))[0]
            self.seen[tid] = (name, seconds)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def stop(self) -> dict[str, float]:
        """Stop sampling and return CPU seconds by thread kind (names without their numbers)."""
        self._stop.set()
        self._thread.join()
        self._sample()
        kinds: dict[str, float] = {}
        for tid, (name, seconds) in self.seen.items():
            seconds -= self._before.get(tid, 0.0)
            kind = re.sub(r"[-_]?\d+(_\d+)?$", "", re.sub(r" \(.*\)$", "", name)) or name
            kinds[kind] = kinds.get(kind, 0.0) + seconds
        return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def child(opml: str, warehouse: str, top: int) -> int:
    """Run the ingest flow in this process (``top`` 0: unprofiled) and print its CPU time and profile."""
    from flows.ingest import ingest

    if top == 0:
        sampler = ThreadCpu()
        started_cpu, started = time.process_time(), time.perf_counter()
        summary: Any = ingest(feeds=opml, warehouse=warehouse)
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
        by_thread = sampler.stop()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool has ended: its workers count
        workers = usage.ru_utime + usage.ru_stime
        pages = max(1, summary.new_entries)
        print(
            f"flow: {summary.new_entries} pages, {summary.batches} batches; wall {wall:.1f} s; CPU: this "
            f"process {cpu:.1f} s ({1000 * cpu / pages:.1f} ms/page), worker processes {workers:.1f} s "
            f"({1000 * workers / pages:.1f} ms/page); load avg 1 min {os.getloadavg()[0]:.1f}"
        )
        print("  this process by thread (CPU s during the flow):")
        for kind, seconds in by_thread.items():
            if seconds >= 0.05:
                print(f"    {seconds:7.2f}  {kind}")
        return 0
    profiles, undo = _profile_threads()
    main_profile = cProfile.Profile(time.thread_time)
    started_cpu, started = time.process_time(), time.perf_counter()
    main_profile.enable()
    summary = ingest(feeds=opml, warehouse=warehouse)
    main_profile.disable()
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    undo()
    print(
        f"flow: {summary.new_entries} new entries, {summary.batches} batches; wall {wall:.1f} s, "
        f"CPU of this process {cpu:.1f} s (all threads, profiler overhead included)"
    )
    stats = pstats.Stats(main_profile)
    for profile in profiles:
        profile.create_stats()
        if profile.stats:
            stats.add(profile)
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(top)
        print(f"--- by {order} (CPU seconds of this process's threads)")
        print(out.getvalue())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the corpus, start a Prefect server, and run the profiled ingest in a child process."""
    parser = argparse.ArgumentParser(prog="python -m bench.flow_profile", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument(
        "--top", type=int, default=40, help="functions to list (0: no profiler, only CPU seconds per page)"
    )
    parser.add_argument("--child", nargs=2, metavar=("OPML", "WAREHOUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], args.top)
    if not (args.corpus / "truth.jsonl").is_file():
        print(f"flow profile skipped: no corpus at {args.corpus}")
        return 0
    with tempfile.TemporaryDirectory(prefix="wirehouse-profile-") as scratch:
        home = Path(scratch) / "prefect-home"
        prepare_prefect_home(home, wirehouse_env(home, 0))
        with (
            prefect_server(home, Path(scratch) / "server.log") as api_url,
            serve_corpus(args.corpus, args.copies) as (_base, opml, pages),
        ):
            env = wirehouse_env(home, len(pages), api_url)
            command = [
                sys.executable,
                "-m",
                "bench.flow_profile",
                "--top",
                str(args.top),
                "--child",
                opml,
                str(Path(scratch) / "news.sqlite"),
            ]
            return subprocess.run(command, env=env, cwd=scratch, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
