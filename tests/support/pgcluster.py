"""A throwaway PostgreSQL on 127.0.0.1 from the machine's own binaries (tests and benches share it)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    """Whether the PostgreSQL server binaries are installed."""
    return (PG_BIN / "initdb").is_file()


class PostgresCluster:
    """A cluster in a temporary folder, run as the ``postgres`` user when we are root (PostgreSQL refuses root).

    Attributes:
        conninfo: A conninfo string for its ``postgres`` database.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="wirehouse-pg-"))
        self._data = self.folder / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        user = "postgres" if self._as_user else getpass.getuser()
        self._port = free_port()
        self._user = user
        self.conninfo = f"host=127.0.0.1 port={self._port} user={user} dbname=postgres"

    def _ctl(self, *args: str, check: bool = True) -> None:
        command = [*self._as_user, str(PG_BIN / "pg_ctl"), "-D", str(self._data), *args]
        subprocess.run(command, check=check, capture_output=True, timeout=120)

    def start(self) -> None:
        """Create the cluster on first use, then start it and wait until it accepts connections."""
        if not self._data.exists():
            init = [
                str(PG_BIN / "initdb"),
                "-D",
                str(self._data),
                "-A",
                "trust",
                "-U",
                self._user,
                "--no-sync",
            ]
            subprocess.run([*self._as_user, *init], check=True, capture_output=True, timeout=120)
        options = f"-c listen_addresses=127.0.0.1 -p {self._port} -k {self.folder} -c fsync=off"
        self._ctl("-o", options, "-w", "-l", str(self.folder / "log"), "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: as a crash would; ``fast``: clients disconnected, clean)."""
        self._ctl("-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a throwaway cluster; yields its conninfo; the cluster and its folder are gone afterwards."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster.conninfo
    finally:
        cluster.remove()


def create_database(conninfo: str, name: str) -> str:
    """Create an empty database on the cluster; return the warehouse address of a lake catalog in it."""
    settings = dict(part.split("=", 1) for part in conninfo.split())
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
