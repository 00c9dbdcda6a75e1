"""Installing wirehouse is quiet and complete: the wheel builds without a warning and carries its data."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from wirehouse.demo import CONTENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
# What setuptools printed for every install before: a license table, data folders outside the packages.
NOISE = re.compile(r"warning|deprecat|absent from the .packages.", re.IGNORECASE)


def test_the_wheel_builds_without_warnings_and_ships_every_data_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # pip's own notes about this machine's package index (file:// find-links) are not the build's.
    noise = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if NOISE.search(line) and "Location 'file:" not in line and "pip" not in line.split(":")[0].lower()
    ]
    assert noise == [], "\n".join(noise[:20])
    (wheel,) = tmp_path.glob("wirehouse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [p.relative_to(ROOT).as_posix() for p in (ROOT / "warehouse").rglob("*.sql")]
    # The sample newsroom's served files (its README is for people reading the source, not for the demo).
    newsroom = (ROOT / "wirehouse" / "sample_newsroom").rglob("*.*")
    data += [p.relative_to(ROOT).as_posix() for p in newsroom if p.suffix in CONTENT_TYPES]
    assert data and [d for d in data if d not in names] == []
