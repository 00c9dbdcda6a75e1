"""Chaos runs: SIGKILL whole process groups of real wirehouse commands at seeded random moments.

Used by ``tests/flows/test_chaos.py`` (a few kills, in ``make test``) and ``bench/chaos.py`` (many,
``make bench-chaos``). A stage is one command as an operator starts it (ingest, backfill, a shard's
ingest, the maintenance flow); a kill takes the command's whole process group, as the OOM killer or
a lost container would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.connection import connect, lake_of
from warehouse.search import search, search_lag

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Stage:
    """One kind of run to kill: a name for the report and the commands started together."""

    name: str
    commands: tuple[tuple[str, ...], ...]  # argv after `python`; several start at once (shards)


@dataclass
class Tally:
    """Runs per stage: started, killed mid-way, and finished on their own before the kill."""

    started: Counter[str] = field(default_factory=Counter)
    killed: Counter[str] = field(default_factory=Counter)
    finished: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[tuple[str, int, int, int]]:
        """(stage, started, killed, finished) per stage, by name."""
        return [(s, self.started[s], self.killed[s], self.finished[s]) for s in sorted(self.started)]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a killed run: loopback allowed, slow politeness off, no WIREHOUSE_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREHOUSE_")}
    env.update(
        WIREHOUSE_ALLOW_PRIVATE_HOSTS="127.0.0.1",
        WIREHOUSE_HOST_DELAY="0.02",  # stretch the run a little, so kills land in every phase
        WIREHOUSE_ROBOTS="off",
        PYTHONPATH=str(ROOT),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    env.update(extra or {})
    return env


def start(argv: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``python ARGV`` in its own process group (a kill takes its Prefect server too)."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )


def finish(stage: Stage, env: dict[str, str], cwd: Path, timeout: float = 600) -> list[str]:
    """Run a stage to its end; returns each command's output. Raises AssertionError if one failed."""
    procs = [start(argv, env, cwd / f"{stage.name}-clean-{i}") for i, argv in enumerate(stage.commands)]
    outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    failed = [o[-4000:] for p, o in zip(procs, outputs, strict=True) if p.returncode != 0]
    assert not failed, "\n=====\n".join(failed)
    return outputs


def kill_at_random(
    stages: Sequence[Stage],
    kills: int,
    env: dict[str, str],
    cwd: Path,
    *,
    seed: int,
    window: tuple[float, float] = (1.0, 12.0),
) -> Tally:
    """Start seeded random stages and SIGKILL their process groups at a random moment, ``kills`` times.

    A run that ends before its moment counts as finished, and another is started, up to three times
    ``kills`` runs in all: on a quick machine short runs often end first, and a test meant to kill
    five times would kill twice.

    Args:
        stages: What may be started (chosen at random each time).
        kills: Runs to kill.
        env: Their environment.
        cwd: A folder for their working folders.
        seed: The random seed: the same seed, the same stages and kill moments.
        window: Seconds after the start within which the kill comes.

    Returns:
        Runs started, killed and finished, per stage.
    """
    rng = random.Random(seed)
    tally = Tally()
    n = 0
    while sum(tally.killed.values()) < kills and n < 3 * kills:
        n += 1
        stage = rng.choice(list(stages))
        delay = rng.uniform(*window)
        procs = [start(argv, env, cwd / f"{stage.name}-{n}-{i}") for i, argv in enumerate(stage.commands)]
        tally.started[stage.name] += 1
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.05)
        alive = [p for p in procs if p.poll() is None]
        for proc in alive:
            os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            proc.communicate(timeout=60)
        tally.killed[stage.name] += 1 if alive else 0
        tally.finished[stage.name] += 0 if alive else 1
    return tally


def rows(warehouse: str | Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of one read-only query."""
    con = connect(warehouse, read_only=True)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


CONTENT = "select url, title, text, language, extraction_status, word_count, content_hash from articles order by url"
# Fetches that claim new articles which the run did not store (or stored more than it claims).
UNACCOUNTED = """
select f.feed_url, f.run_id, f.new_entries, count(a.url)
from feed_fetches f left join articles a on a.run_id = f.run_id and a.feed_url = f.feed_url
group by all having count(a.url) <> f.new_entries
"""
STORY_GROUPS = """
select list(url order by url) from articles where story_id is not null
group by story_id having count(*) > 1 order by 1
"""
STAGED_LEFT = """
select count(*) from staged_batches where batch_id not in (select batch_id from merged_batches)
"""


def problems(
    warehouse: str | Path, reference: str | Path, *, search_dir: Path | None = None, shared: bool = False
) -> list[str]:
    """What a lake that was killed and then run clean holds differently from one never killed.

    Args:
        warehouse: The lake that was killed.
        reference: A lake the same runs filled without a kill.
        search_dir: The killed lake's search index (default: beside it).
        shared: A shared lake (staged batches must all be merged).

    Returns:
        One line per problem; empty when every page is stored exactly once with the same content,
        every extracted article is found by search, the fetch log accounts for every article, story
        groups are the same, and no staged batch is left.
    """
    found: list[str] = []
    content, expected = rows(warehouse, CONTENT), rows(reference, CONTENT)
    urls = [r[0] for r in content]
    if len(urls) != len(set(urls)):
        found.append(f"{len(urls) - len(set(urls))} URLs stored more than once")
    if content != expected:
        missing = {r[0] for r in expected} - set(urls)
        extra = set(urls) - {r[0] for r in expected}
        found.append(f"content differs: {len(missing)} missing, {len(extra)} extra, of {len(expected)}")
    if unaccounted := rows(warehouse, UNACCOUNTED):
        found.append(f"{len(unaccounted)} feed fetches do not account for their articles: {unaccounted[:3]}")
    if rows(warehouse, STORY_GROUPS) != rows(reference, STORY_GROUPS):
        found.append("story groups differ from the lake that was never killed")
    if shared and (left := rows(warehouse, STAGED_LEFT)[0][0]):
        found.append(f"{left} staged batches left unmerged")
    found.extend(unfindable(warehouse, search_dir or lake_of(warehouse).search_dir))
    return found


def unfindable(warehouse: str | Path, folder: Path) -> list[str]:
    """Extracted articles the search index lacks, or that a search for their own title does not find."""
    con = connect(warehouse, read_only=True)
    try:
        lag = search_lag(con, folder)
        titled = con.execute(
            "select url, title from articles where extraction_status = 'ok' and title is not null order by url"
        ).fetchall()
        missing = [
            url for url, title in titled if url not in {h.url for h in search(con, folder, title, limit=200)}
        ]
    finally:
        con.close()
    found = [f"the search index lacks {lag} extracted articles"] if lag else []
    if missing:
        found.append(f"{len(missing)} of {len(titled)} articles not found by their title, e.g. {missing[0]}")
    return found
