"""Ctrl-C: the first one interrupts the command, which then ends within seconds with exit code 130.

The first SIGINT raises KeyboardInterrupt in the main thread as usual, so the flow can store what it
finished and the temporary Prefect server is stopped in order. Threads still inside a page download
or a batch are not waited for: a watchdog ends the process ``GRACE`` seconds after the first Ctrl-C
whatever it is doing (stored batches are committed; a half-written one rolls back, as after a kill).
Further Ctrl-Cs are ignored, so cleanup is never cut short by a second KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import NoReturn

from wirehouse import server

GRACE = 2.5  # seconds from the first Ctrl-C to the forced end (the server then gets at most 1 s)
EXIT_CODE = 130  # 128 + SIGINT, what shells report for a command ended by Ctrl-C
MESSAGE = b"wirehouse: interrupted\n"

_interrupted = threading.Event()
_exiting = threading.Lock()


def install() -> None:
    """Handle SIGINT as described above (only possible from the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def interrupted() -> bool:
    """Whether a Ctrl-C has arrived."""
    return _interrupted.is_set()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if _interrupted.is_set():
        return  # the watchdog ends the process; a second KeyboardInterrupt would only break cleanup
    _interrupted.set()
    # From here on nothing is logged: task threads that are cut off would otherwise report their
    # failures (with tracebacks) while the run winds down; `wirehouse: interrupted` says it all.
    logging.disable(logging.CRITICAL)
    threading.Thread(target=_watchdog, name="wirehouse-interrupt", daemon=True).start()
    raise KeyboardInterrupt


def _watchdog() -> None:
    time.sleep(GRACE)
    exit_interrupted()


def exit_interrupted() -> NoReturn:
    """Stop the temporary server and worker processes, say ``wirehouse: interrupted``, exit with 130.

    ``os._exit``: the interpreter would otherwise wait for every task thread (a page download can take
    a minute) and Prefect's exit hooks would retry sending events to the stopped server.
    """
    if not _exiting.acquire(blocking=False):
        while True:  # the other thread is ending the process
            time.sleep(1)
    server.stop_all(timeout=1.0)
    for child in multiprocessing.active_children():
        child.terminate()  # SIGTERM's default action: gone without a word
    # Release the pool's named semaphores as a normal exit would (multiprocessing's own exit hook, the
    # finalizers of priority >= 0); otherwise its resource tracker warns about "leaked" ones.
    finalizers = getattr(multiprocessing.util, "_run_finalizers", None)
    if finalizers is not None:
        with contextlib.suppress(Exception):
            finalizers(0)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if sys.stderr.isatty():
        os.write(2, b"\r\x1b[2K\x1b[?25h")  # clear a progress bar's line, show the cursor again
    os.write(2, MESSAGE)
    os._exit(EXIT_CODE)
