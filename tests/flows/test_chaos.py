"""Chaos: ingest, backfill, shard ingests and maintenance killed at random, then one clean run of each.

On the embedded catalog and on a PostgreSQL catalog with two shards. Each ends as a lake that was
never killed: every page once with the same content, every extracted article found by search (no
maintenance run needed for that), the fetch log accounting for every article, the same story groups,
no staged batch left. Seed and size: ``CHAOS_SEED`` and ``CHAOS_KILLS`` below; ``make bench-chaos``
runs the same tests with more kills and prints the runs started, killed and finished per stage.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.chaos import Stage, environment, finish, kill_at_random, problems, rows
from tests.support.loadsite import newsroom
from tests.support.warcfiles import Capture, page, write_warc
from warehouse.connection import lake_of

CHAOS_SEED = 20261207
# Kills per catalog (runs that end before their moment do not count): 4 in `make test`; `make bench-chaos` sets more.
CHAOS_KILLS = int(os.environ.get("CHAOS_KILLS", "4"))
FEEDS, ITEMS = 4, 6

PARAGRAPHS = [
    "The regional council agreed on Tuesday to rebuild the old ferry pier, which storms damaged twice "
    "last winter, after a long debate about who should pay for the work.",
    "Fishermen said the pier was the only safe place to land their boats in bad weather, and that a "
    "season without it had cost them dearly.",
    "The council's leader said the work would begin in the spring and take about a year, with money "
    "from the national harbour fund.",
]


def archives(folder: Path) -> list[Path]:
    """Two WARC files: ten stories each, every story also carried by an agency's other outlet."""
    folder.mkdir()
    files = []
    for part in range(2):
        captures = []
        for n in range(part * 5, part * 5 + 5):
            for host in ("coast.example", "harbour.example"):
                text = [f"{p} (Story {n}.)" for p in PARAGRAPHS] + [f"Filed by the {host} desk."]
                body = page(f"Ferry pier, story {n}", text, "en", f"2024-10-{10 + n:02d}T08:00:00Z")
                captures.append(Capture(f"https://{host}/news/{n}", body))
        files.append(write_warc(folder / f"crawl-{part}.warc.gz", captures))
    return files


def ingest(feeds: str, warehouse: str, *extra: str) -> tuple[str, ...]:
    return (
        "-m",
        "wirehouse.cli",
        "ingest",
        "--feeds",
        feeds,
        "--warehouse",
        warehouse,
        "--batch-size",
        "3",
        *extra,
    )


def backfill(files: list[Path], warehouse: str) -> tuple[str, ...]:
    return (
        "-m",
        "wirehouse.cli",
        "backfill",
        *map(str, files),
        "--warehouse",
        warehouse,
        "--batch-size",
        "3",
    )


def maintenance(warehouse: str, export_dir: Path) -> tuple[str, ...]:
    # No snapshot kept and no grace: the index's mark falls behind expired snapshots (a rebuild).
    code = (
        "import sys; from flows.maintenance import maintenance; "
        "maintenance(warehouse=sys.argv[1], export_dir=sys.argv[2], keep_snapshots_days=0, file_grace_minutes=0)"
    )
    return ("-c", code, warehouse, str(export_dir))


@pytest.fixture
def served_env(prefect_server: tuple[str, dict[str, str]]) -> dict[str, str]:
    """One Prefect server for every run: kills come during the work, not during a server's start."""
    url, server_env = prefect_server
    return environment({"PREFECT_API_URL": url, "PREFECT_HOME": server_env["PREFECT_HOME"]})


def test_kills_on_the_embedded_catalog_leave_nothing_lost_stale_or_twice(tmp_path, served_env):
    files = archives(tmp_path / "archives")
    reference, killed = str(tmp_path / "ref" / "news.sqlite"), str(tmp_path / "lake" / "news.sqlite")
    with newsroom(FEEDS, ITEMS) as base:
        feeds = f"{base}/feeds.opml"
        finish(Stage("ingest", (ingest(feeds, reference),)), served_env, tmp_path / "ref-runs")
        finish(Stage("backfill", (backfill(files, reference),)), served_env, tmp_path / "ref-runs")
        stages = [
            Stage("ingest", (ingest(feeds, killed),)),
            Stage("backfill", (backfill(files, killed),)),
            Stage("maintenance", (maintenance(killed, tmp_path / "export"),)),
        ]
        tally = kill_at_random(stages, CHAOS_KILLS, served_env, tmp_path / "runs", seed=CHAOS_SEED)
        print(tally.rows())
        assert sum(tally.killed.values()) >= 3, tally.rows()
        finish(stages[0], served_env, tmp_path / "runs")
        finish(stages[1], served_env, tmp_path / "runs")
    assert rows(reference, "select count(*) from articles") == [(FEEDS * ITEMS + 20,)]
    assert rows(reference, "select count(*) from stories where size > 1")[0][0] >= 1  # wire copies
    assert problems(killed, reference) == []
    # The backfill's progress is consistent: each archive recorded once, its pages all stored.
    assert rows(killed, "select source_file, stored + skipped from archive_files order by 1") == [
        (str(f), 10) for f in files
    ]


def test_kills_of_two_shards_on_a_postgresql_catalog_leave_nothing_lost_stale_or_twice(
    tmp_path, served_env, postgres_catalog
):
    data = tmp_path / "shared-data"
    env = {**served_env, "WIREHOUSE_DATA_PATH": str(data) + os.sep}
    reference = str(tmp_path / "ref" / "news.sqlite")
    with newsroom(FEEDS, ITEMS) as base:
        feeds = f"{base}/feeds.opml"
        finish(Stage("ingest", (ingest(feeds, reference),)), env, tmp_path / "ref-runs")
        shards = Stage(
            "shards", tuple(ingest(feeds, postgres_catalog, "--shard", f"{i}/2") for i in range(2))
        )
        stages = [shards, Stage("maintenance", (maintenance(postgres_catalog, tmp_path / "export"),))]
        tally = kill_at_random(stages, CHAOS_KILLS, env, tmp_path / "runs", seed=CHAOS_SEED)
        print(tally.rows())
        assert sum(tally.killed.values()) >= 3, tally.rows()
        finish(shards, env, tmp_path / "runs")
    search_dir = lake_of(postgres_catalog, data_path=str(data) + os.sep).search_dir
    assert problems(postgres_catalog, reference, search_dir=search_dir, shared=True) == []
