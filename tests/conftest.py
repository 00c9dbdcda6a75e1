"""Shared fixtures: environment for tests, one Prefect test harness per session, a fixture newsroom."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

# Before prefect is imported anywhere: tests fetch from loopback and need no politeness delay.
os.environ["WIREHOUSE_ALLOW_PRIVATE_HOSTS"] = "127.0.0.1,localhost"
os.environ["WIREHOUSE_HOST_DELAY"] = "0"
os.environ["WIREHOUSE_RETRY_DELAY"] = "0"
os.environ.pop("WIREHOUSE_WAREHOUSE", None)
os.environ.pop("WIREHOUSE_SETTINGS", None)

from tasks.settings import apply_prefect_defaults

apply_prefect_defaults()

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CORPORA = SHARED / "corpora"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    """A fresh lake (its SQLite catalog) per test."""
    return tmp_path / "news.sqlite"


class Newsroom:
    """The bundled sample newsroom on loopback, with a log of every path requested."""

    def __init__(self, base: str, log: list[str]) -> None:
        self.base = base
        self.log = log
        self.opml = f"{base}/sample.opml"


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    """The bundled sample newsroom served on loopback."""
    from wirehouse.demo import serve_newsroom

    log: list[str] = []
    with serve_newsroom(log=log, port=0) as base:
        yield Newsroom(base, log)


def require_corpus(name: str) -> Path:
    """Return ../shared/corpora/<name>, or skip the test cleanly where it is absent."""
    path = CORPORA / name
    if not path.is_dir():
        pytest.skip(f"corpus {path} is absent (it lives beside the project in ../shared)")
    return path


PG_BIN = Path("/usr/lib/postgresql/15/bin")
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A separately started `prefect server start` (what `make ui` runs): its API URL and environment."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("prefect server did not start within 120 s")
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL on 127.0.0.1 from the machine's own binaries; yields a conninfo string.

    PostgreSQL refuses to run as root, so when we are root it runs as the ``postgres`` user, in a
    folder that user owns. Stopped (and its folder removed) at the end of the session.
    """
    import getpass
    import shutil
    import subprocess

    if not (PG_BIN / "initdb").is_file():
        pytest.skip("PostgreSQL binaries are not installed")
    folder = Path(tempfile.mkdtemp(prefix="wirehouse-pg-"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    user = "postgres" if as_user else getpass.getuser()
    port = free_port()
    run = partial(subprocess.run, check=True, capture_output=True, timeout=120)
    run([*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync"])
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    run(
        [
            *as_user,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(folder / "log"),
            "start",
        ]
    )
    try:
        yield f"host=127.0.0.1 port={port} user={user} dbname=postgres"
    finally:
        subprocess.run(
            [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_catalog(postgres_server: str, tmp_path: Path) -> str:
    """A fresh, empty PostgreSQL database for one lake's catalog; returns the warehouse address."""
    import subprocess
    import uuid

    name = f"lake_{uuid.uuid4().hex[:12]}"
    settings = dict(part.split("=", 1) for part in postgres_server.split())
    subprocess.run(
        [
            str(PG_BIN / "createdb"),
            "-h",
            settings["host"],
            "-p",
            settings["port"],
            "-U",
            settings["user"],
            name,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return f"postgres:host={settings['host']} port={settings['port']} user={settings['user']} dbname={name}"
