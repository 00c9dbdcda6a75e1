"""Process trees of the speed bench: sampling their memory and CPU, and ending them."""

from __future__ import annotations

import subprocess

import psutil


class TreeSampler:
    """Samples a process tree: its summed RSS (shared pages count once per process) and CPU per kind."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self._cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, user + system seconds last seen)

    def sample(self) -> int:
        """Take one sample.

        Returns:
            The tree's current RSS in bytes.
        """
        try:
            members = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for member in members:
            try:
                with member.oneshot():
                    total += member.memory_info().rss
                    times = member.cpu_times()
                known = self._cpu.get(member.pid)
                kind = known[0] if known else self._kind(member)
                self._cpu[member.pid] = (kind, times.user + times.system)
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, total)
        return total

    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds (user + system) per kind of process, as last sampled."""
        totals: dict[str, float] = {}
        for kind, seconds in self._cpu.values():
            totals[kind] = totals.get(kind, 0.0) + seconds
        return totals

    def _kind(self, member: psutil.Process) -> str:
        if member.pid == self.root.pid:
            return "main"
        command = " ".join(member.cmdline())
        if "prefect.server" in command:
            return "prefect server"
        if "multiprocessing" in command:
            return "worker processes"
        return "other"


def kill_tree(popen: subprocess.Popen[bytes]) -> None:
    """Kill a process and every child it started."""
    try:
        children = psutil.Process(popen.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for process in [*children]:
        try:
            process.kill()
        except psutil.Error:
            continue
    popen.kill()
