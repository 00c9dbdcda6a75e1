"""Politeness per host: how many requests at once and the gap between them, and robots.txt's rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.robotparser import RobotFileParser


def parse_robots(text: str) -> RobotFileParser:
    """Parse a robots.txt body.

    Args:
        text: The file as text.

    Returns:
        The rules.
    """
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


# RFC 9309: while robots.txt cannot be read (5xx, timeout), assume everything is disallowed.
ROBOTS_UNAVAILABLE = parse_robots("User-agent: *\nDisallow: /")


@dataclass
class HostGate:
    """Per-host politeness: at most N requests in flight and a minimum gap between request starts."""

    concurrency: int
    delay: float
    _slots: threading.Semaphore = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_start: float = 0.0

    def __post_init__(self) -> None:
        self._slots = threading.Semaphore(max(1, self.concurrency))

    def slow_down(self, delay: float) -> None:
        """Raise the gap between requests (a robots.txt Crawl-delay), never lower it."""
        with self._lock:
            self.delay = max(self.delay, delay)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for a free slot and the gap since the last request start, then hold the slot."""
        with self._slots:
            with self._lock:
                now = time.monotonic()
                wait = self._next_start - now
                self._next_start = max(now, self._next_start) + self.delay
            if wait > 0:
                time.sleep(wait)
            yield
