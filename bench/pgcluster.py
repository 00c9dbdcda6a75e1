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
from functools import partial
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


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster (as the ``postgres`` user when we are root: PostgreSQL refuses root).

    Yields:
        A conninfo string for its ``postgres`` database; the cluster and its folder are gone afterwards.
    """
    folder = Path(tempfile.mkdtemp(prefix="wirehouse-pg-"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    user = "postgres" if as_user else getpass.getuser()
    port = free_port()
    run = partial(subprocess.run, check=True, capture_output=True, timeout=120)
    try:
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
        yield f"host=127.0.0.1 port={port} user={user} dbname=postgres"
    finally:
        subprocess.run(
            [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)


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
