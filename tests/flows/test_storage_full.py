"""The lake's filesystem fills up during an ingest: one clear line, exit 1, nothing lost, the next run completes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bulk_newsroom import BulkNewsroom
from tests.support.chaos import environment, problems, rows
from warehouse.connection import ensure_schema

# The tmpfs starts this big; the test then shrinks it to the empty lake plus half of what a clean run
# adds, so the first batches fit and a later one does not, however much a batch takes in this version.
ROOMY_SIZE = "64m"


def _mount(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``ROOMY_SIZE`` mounted for the test (needs root, as on the CI machine)."""
    folder = tmp_path / "small"
    folder.mkdir()
    try:
        _mount(folder, ROOMY_SIZE)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _disk_use(folder: Path) -> int:
    """Bytes a folder takes on its filesystem (allocated blocks, as tmpfs counts them)."""
    return sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file())


def _ingest(opml: str, warehouse: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "wirehouse.cli", "ingest", "--feeds", opml, "--warehouse", str(warehouse)]
    env = environment({"WIREHOUSE_HOST_DELAY": "0"})
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_a_full_filesystem_fails_in_one_line_then_a_run_with_space_completes(small_filesystem, tmp_path):
    room = BulkNewsroom(feeds=5, items=40)
    reference = tmp_path / "reference" / "news.sqlite"
    lake = small_filesystem / "news.sqlite"
    with room.running():
        clean = _ingest(room.opml, reference, tmp_path / "run-reference")
        assert clean.returncode == 0, clean.stderr[-3000:]
        ensure_schema(lake)  # the empty lake, as the run would create it
        empty = _disk_use(small_filesystem)
        limit = (empty + max(empty, _disk_use(reference.parent))) // 2 // 1024
        subprocess.run(["mount", "-o", f"remount,size={limit}k", str(small_filesystem)], check=True)

        full = _ingest(room.opml, lake, tmp_path / "run-full")
        assert full.returncode == 1, full.stdout[-2000:] + full.stderr[-3000:]
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("wirehouse: error: no space left on the lake's filesystem ("), last
        assert "free space and run again" in last
        # Prefect logs each failed task's traceback; after the flow's end, only the one line may follow.
        tail = full.stderr.rsplit("Finished in state Failed", 1)[-1]
        assert "Traceback" not in tail, tail[-3000:]

        subprocess.run(["mount", "-o", f"remount,size={ROOMY_SIZE}", str(small_filesystem)], check=True)
        stored = rows(lake, "select count(*), count(distinct url) from articles")[0]
        assert stored[0] == stored[1], "a URL stored twice by the run that ran out of space"
        assert 0 < stored[0] < 200, (
            f"the filesystem ({limit}k) should have filled mid-run; {stored[0]} stored"
        )
        # What the full run did store is complete: the same rows a clean run stores for those URLs.
        partial = rows(lake, "select url, title, text, content_hash from articles order by url")
        expected = {r[0]: r for r in rows(reference, "select url, title, text, content_hash from articles")}
        assert all(expected[r[0]] == r for r in partial)

        again = _ingest(room.opml, lake, tmp_path / "run-again")
        assert again.returncode == 0, again.stderr[-3000:]
    assert problems(lake, reference) == []
