"""The temporary Prefect server of a run without PREFECT_API_URL, started and stopped by wirehouse itself.

Prefect would start one on its own (``SubprocessASGIServer``) in the terminal's process group, so
Ctrl-C killed it mid-run and the client then retried against a dead server for minutes. It also
stopped it by SIGTERM with a 5 s grace: the server's task-run recorder cancels a write in progress
at shutdown (logging "Error flushing N events" with a traceback on the user's terminal) and a
final write that takes longer than the grace is lost.

Here the server runs in a session of its own (a terminal's Ctrl-C never reaches it), its output
goes to a log file, its recorder writes once at shutdown instead of every few seconds (nobody
watches a temporary server live), and wirehouse stops it only after the run's events were handed
over, waiting as long as the final write takes. Should wirehouse be killed outright, the server
notices that its parent is gone and stops itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from core.errors import PermanentError

# Seconds to wait for the server to answer /health; Prefect's temporary server takes 5-19 s on a
# busy 2-core machine (migrations of a fresh database included).
STARTUP_TIMEOUT = 90.0
# Seconds the server gets for its final write of task-run records after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT = 60.0
# Seconds the client may take to hand its remaining events and logs to the server at the end.
DRAIN_TIMEOUT = 30.0
# The same two steps after Ctrl-C, when ending within seconds matters more than the run's records.
INTERRUPTED_DRAIN_TIMEOUT = 0.3
INTERRUPTED_SHUTDOWN_TIMEOUT = 1.0
# Uvicorn's exit code when the port is taken (another process won the race for it).
_PORT_IN_USE = 3

# The server's own settings: ephemeral mode (only the services a run needs) and no UI, as Prefect's
# own temporary server; and a task-run recorder without periodic writes: Prefect's shutdown cancels
# a periodic write in progress ("Error flushing N events" + CancelledError), while its final write,
# after all services are told to stop, is never cancelled. Nobody watches a temporary server live.
SERVER_ENV: dict[str, str] = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "86400",
}
# Defaults an explicit value in the environment overrides: a write per 10,000 events (one per event
# at Prefect's default, which fell behind and lost records at exit), no telemetry.
SERVER_DEFAULTS: dict[str, str] = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "10000",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


_RUNNING: set[TemporaryServer] = set()
_RUNNING_GUARD = threading.Lock()


class ServerError(PermanentError):
    """The temporary Prefect server could not be started."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    """One ``uvicorn prefect.server.api.server:create_app`` process in its own session.

    Attributes:
        api_url: ``http://127.0.0.1:PORT/api``.
        log_path: Where the server's output goes.
    """

    def __init__(self, log_dir: Path | None = None) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        folder = log_dir or Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            folder = Path(tempfile.gettempdir())
        self.log_path = folder / "wirehouse-temporary-server.log"
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Launch the server process (returns at once; :meth:`wait_ready` waits for it)."""
        port = _free_port()
        self.api_url = f"http://127.0.0.1:{port}/api"
        env = {**SERVER_DEFAULTS, **os.environ, **SERVER_ENV}
        env.pop("PREFECT_API_URL", None)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wirehouse.server", str(port), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            # Its own session and process group: a terminal's Ctrl-C goes to wirehouse, which then
            # stops the server in order, instead of killing it under a run that still reports to it.
            start_new_session=True,
        )
        with _RUNNING_GUARD:
            _RUNNING.add(self)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until the server answers, restarting it on another port if its port was taken.

        Args:
            timeout: Seconds to wait in all.

        Raises:
            ServerError: It exited or did not answer in time.
        """
        import httpx  # here: reading commands import this module and must start fast

        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                code = self.process.poll()
                if code == _PORT_IN_USE:
                    self._close_log()
                    self.start()
                    continue
                if code is not None:
                    raise ServerError(
                        f"the temporary Prefect server exited with code {code}; see {self.log_path} "
                        "(or set PREFECT_API_URL to a running server)"
                    )
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"the temporary Prefect server did not answer within {timeout:g} s; see {self.log_path} "
            "(or set PREFECT_API_URL to a running server)"
        )

    def stop(self, timeout: float = SHUTDOWN_TIMEOUT) -> int | None:
        """Stop the server gracefully (SIGTERM: its services write what they hold), kill it if it hangs.

        Args:
            timeout: Seconds to wait for it to exit.

        Returns:
            Its exit code (None if it was never started).
        """
        with _RUNNING_GUARD:
            process, self.process = self.process, None
            _RUNNING.discard(self)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()
        return process.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_all(timeout: float) -> None:
    """Stop every temporary server this process still runs (the interrupt path; see wirehouse/interrupt.py).

    Args:
        timeout: Seconds each server gets before it is killed.
    """
    with _RUNNING_GUARD:
        running = list(_RUNNING)
    for each in running:
        each.stop(timeout=timeout)


def drain_prefect_clients(timeout: float = DRAIN_TIMEOUT) -> None:
    """Hand every event and log line the client still holds to the server, waiting up to ``timeout``.

    Prefect does this only at interpreter exit, after the temporary server is gone.

    Args:
        timeout: Seconds to wait per kind.
    """
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def _use_api(url: str | None) -> None:
    """Point this process (and Prefect's settings, if already loaded) at ``url``; None: unset."""
    if url is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = url
    if "prefect.context" in sys.modules:
        # Prefect read its settings when it was imported; a new root context makes it see the variable.
        import prefect.context

        prefect.context.refresh_global_settings_context()


@contextmanager
def prefect_api(server: TemporaryServer | None = None) -> Iterator[str | None]:
    """Make sure runs in this block report to a Prefect server, starting a temporary one if none is set.

    With PREFECT_API_URL set this does nothing. Otherwise it starts (or takes) a temporary server,
    points Prefect at it, and at the end hands over the client's events and stops the server in order.

    Args:
        server: A temporary server already launched by the caller (started early, so that it boots
            while other work happens); None starts one here.

    Yields:
        The API URL of the temporary server, or None when PREFECT_API_URL was set.
    """
    if server is None and not needs_temporary_server():
        yield None
        return
    if server is None:
        server = TemporaryServer()
        server.start()
    # After Ctrl-C the run's records matter less than ending within seconds (wirehouse/interrupt.py).
    drain, shutdown = DRAIN_TIMEOUT, SHUTDOWN_TIMEOUT
    interrupted = False
    try:
        server.wait_ready()
        _use_api(server.api_url)
        try:
            yield server.api_url
        except KeyboardInterrupt:
            interrupted = True
            drain, shutdown = INTERRUPTED_DRAIN_TIMEOUT, INTERRUPTED_SHUTDOWN_TIMEOUT
            raise
        finally:
            drain_prefect_clients(drain)
    finally:
        server.stop(shutdown)
        if not interrupted:  # re-reading Prefect's settings takes a moment; the process is ending anyway
            _use_api(None)


def serve(port: int, parent: int) -> None:
    """Be the server process: Prefect's API app under uvicorn, as Prefect runs its temporary server.

    It ends itself (gracefully, as on SIGTERM) when ``parent`` is gone: a wirehouse process that was
    killed outright (SIGKILL, the OOM killer) cannot stop a server that lives in a session of its own.

    Args:
        port: Port on 127.0.0.1.
        parent: The wirehouse process's id.
    """
    import uvicorn

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    # Exits with code 3 when it cannot start (e.g. the port was taken meanwhile).
    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
    )


def needs_temporary_server() -> bool:
    """Tell whether a run from this process would need a temporary server: no Prefect API URL is set.

    Set means PREFECT_API_URL in the environment, or in Prefect's settings where Prefect is already
    loaded (a profile, or a test harness's temporary settings).
    """
    if os.environ.get("PREFECT_API_URL"):
        return False
    if "prefect.settings" in sys.modules:
        from prefect.settings import get_current_settings

        return not get_current_settings().api.url
    return True


@contextmanager
def temporary_server() -> Iterator[TemporaryServer | None]:
    """A temporary Prefect server while the block runs, when the run needs one (else None).

    Yields:
        The started server, stopped however the block is left; None when a server is configured.
    """
    if not needs_temporary_server():
        yield None
        return
    temporary = TemporaryServer()
    temporary.start()
    try:
        yield temporary
    finally:
        temporary.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
