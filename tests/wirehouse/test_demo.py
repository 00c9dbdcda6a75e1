"""The demo's sample newsroom: a taken port is one clear error, never a second copy under new URLs."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests.conftest import free_port
from wirehouse.cli import main
from wirehouse.demo import DEMO_BASE, PortBusyError, port_owner, serve_newsroom


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_is_an_error_naming_the_port_its_owner_and_the_way_out(taken_port):
    with pytest.raises(PortBusyError) as caught, serve_newsroom(port=taken_port):
        pytest.fail("served on another port")
    message = str(caught.value)
    assert f"port {taken_port}" in message
    assert "(pid " in message  # this very process holds it, and Linux's /proc says so
    assert "make run DEMO_PORT=" in message and "wirehouse demo --port" in message


def test_demo_on_a_taken_port_fails_in_one_line_and_stores_nothing(taken_port, tmp_path, capsys):
    warehouse = tmp_path / "news.duckdb"
    assert main(["demo", "--port", str(taken_port), "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"wirehouse: error: port {taken_port} ")
    assert not warehouse.exists()


def test_port_owner_knows_nothing_of_a_free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening
    assert port_owner(port) is None


def test_demo_serve_only_serves_until_ctrl_c(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirehouse.cli", "demo", "--serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert proc.stdout.readline() == (
            f"sample newsroom serving at {DEMO_BASE} on 127.0.0.1:{port} (Ctrl-C stops it)\n"
        )
        opml = httpx.get(f"{base}/sample.opml").text
        # The feeds' URLs name the sample's own host, never the port it is served on.
        assert f'xmlUrl="{DEMO_BASE}/feeds/' in opml and str(port) not in opml
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""
        assert not list(tmp_path.iterdir())  # served only: no warehouse
    finally:
        proc.kill()
        proc.wait()
