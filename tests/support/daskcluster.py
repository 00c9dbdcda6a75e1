"""A throwaway Dask cluster on 127.0.0.1: a scheduler and worker processes of this venv (tests and benches share it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class DaskCluster:
    """A Dask scheduler and its worker processes on 127.0.0.1."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]

    def kill_worker(self, number: int) -> None:
        """SIGKILL worker process ``number`` (with a nanny: the nanny; started with --no-nanny: the worker)."""
        os.kill(self.workers[number].pid, signal.SIGKILL)


@contextmanager
def dask_cluster(
    folder: Path,
    workers: int = 2,
    *,
    nanny: bool = False,
    allowed_failures: int | None = None,
    niceness: int = 0,
    timeout: float = 180.0,
) -> Iterator[DaskCluster]:
    """Start ``dask scheduler`` and ``workers`` × ``dask worker --nthreads 1`` of this venv; stop them after.

    Args:
        folder: For the scheduler file, the workers' scratch space and the processes' logs.
        workers: Worker processes (one thread each).
        nanny: Start each worker under a nanny (which restarts it when it dies).
        allowed_failures: The scheduler's ``distributed.scheduler.allowed-failures`` (None: Dask's default).
        niceness: Added to the workers' nice value.
        timeout: Seconds to wait for the scheduler and every worker.

    Yields:
        The running cluster.
    """
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}  # the workers import tasks (and tests' plugins)
    if allowed_failures is not None:
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(allowed_failures)
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT, start_new_session=True
            )
        started.append(process)
        return process

    try:
        scheduler = start(
            "scheduler",
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
        )
        deadline = time.monotonic() + timeout
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start; see {folder / 'scheduler.log'}")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        nice = ["nice", "-n", str(niceness)] if niceness else []
        procs = [
            start(
                f"worker-{n}",
                [*nice, str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1"]
                + ["--host", "127.0.0.1", "--no-dashboard", "--name", f"worker-{n}"]
                + ["--local-directory", str(folder / f"worker-{n}")]
                + ([] if nanny else ["--no-nanny"]),
            )
            for n in range(workers)
        ]
        with Client(address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=max(1.0, deadline - time.monotonic()))
        yield DaskCluster(address, scheduler, procs)
    finally:
        # Workers first: a worker whose scheduler is already gone waits for it instead of closing.
        for group in (started[1:], started[:1]):
            for process in group:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
