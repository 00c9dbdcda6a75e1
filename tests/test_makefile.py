"""The Makefile as a newcomer meets it: `make help` lists every described target, lined up."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lines_up_every_described_target():
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    described = re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert [line.split()[0] for line in lines] == described
    assert "\t" not in result.stdout
    # Every description starts in the same column, two spaces after the longest target name.
    column = max(map(len, described)) + 2
    for line, name in zip(lines, described, strict=True):
        assert line[:column] == name.ljust(column) and line[column] != " ", line


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_ui_on_a_taken_port_says_so_and_fails(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            ["make", "--no-print-directory", "-s", "ui", f"UI_PORT={port}", f"UI_DIR={tmp_path / 'ui'}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    assert result.returncode != 0, result.stdout
    assert f"Port {port} is already in use" in result.stdout, result.stdout + result.stderr
    assert f"make ui UI_PORT={port + 1}" in result.stdout
    assert "Prefect UI:" not in result.stdout  # it said the UI was up while its own log said otherwise
    assert not (tmp_path / "ui" / "url").exists()
