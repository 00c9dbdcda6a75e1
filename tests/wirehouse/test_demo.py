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


@pytest.mark.usefixtures("prefect_harness")
def test_the_later_edition_of_the_sample_makes_the_documented_revisions(warehouse_path):
    import time

    from core.settings import exported_settings
    from flows.ingest import ingest
    from tests.support.pgcluster import free_port
    from warehouse.connection import connect
    from wirehouse.demo import DEMO_BASE, serve_newsroom

    port = free_port()
    settings = {"demo_port": port, "host_delay": 0, "robots": False, "recheck_after": "1s,600s"}
    with exported_settings(**settings, recheck_per_host=100):  # as the demo: its one host, all re-checked
        with serve_newsroom(port=port, public_base=DEMO_BASE) as base:
            ingest(feeds=f"{base}/sample.opml", warehouse=str(warehouse_path))
        time.sleep(1.2)
        with serve_newsroom(port=port, public_base=DEMO_BASE, later=True):
            second = ingest(warehouse=str(warehouse_path))
    assert second.new_entries == 0
    assert (second.rechecks["revisions"], second.rechecks["corrections"], second.rechecks["removed"]) == (
        3,
        1,
        1,
    )
    con = connect(warehouse_path, read_only=True)
    try:
        revised = con.execute(
            "select regexp_extract(url, '[^/]+$'), changed_title, is_correction from revisions where revision = 1"
        ).fetchall()
        removed = con.execute(
            "select regexp_extract(url, '[^/]+$') from articles where removed_at is not null"
        ).fetchall()
    finally:
        con.close()
    assert sorted(revised) == [
        ("library-petition-eastgate.html", True, False),
        ("museum-wiedereroeffnung.html", False, False),
        ("tramway-valmont-sur-loire.html", False, True),
    ]
    assert removed == [("festival-guitarra-almaren.html",)]  # the timestamp-only page made none
