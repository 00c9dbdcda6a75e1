"""Shared fixtures: environment for tests, one Prefect test harness per session, a fixture newsroom."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# Before prefect is imported anywhere: tests fetch from loopback and need no politeness delay.
os.environ["WIREHOUSE_ALLOW_PRIVATE_HOSTS"] = "127.0.0.1,localhost"
os.environ["WIREHOUSE_HOST_DELAY"] = "0"
os.environ["WIREHOUSE_RETRY_DELAY"] = "0"
os.environ.pop("WIREHOUSE_WAREHOUSE", None)
os.environ.pop("WIREHOUSE_SETTINGS", None)

from core.settings import apply_prefect_defaults
from tests.support.pgcluster import free_port

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


BIN = Path(sys.executable).parent


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
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on 127.0.0.1 for the session (tests/support/pgcluster.py); yields a conninfo string."""
    from tests.support.pgcluster import available, postgres_cluster

    if not available():
        pytest.skip("PostgreSQL binaries are not installed")
    with postgres_cluster() as conninfo:
        yield conninfo


@pytest.fixture
def postgres_catalog(postgres_server: str) -> str:
    """A fresh, empty PostgreSQL database for one lake's catalog; returns the warehouse address."""
    import uuid

    from tests.support.pgcluster import create_database

    return create_database(postgres_server, f"lake_{uuid.uuid4().hex[:12]}")
