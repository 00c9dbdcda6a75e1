"""The lake in a DuckDB command line: `wirehouse shell`, and `wirehouse attach-sql` for one's own DuckDB.

Both give the same statements: the extensions LOADed from their PyPI wheels by absolute path (DuckDB
1.5.5 builds: another DuckDB refuses them), the lake ATTACHed as ``news`` exactly as every connection
of wirehouse attaches it (read-only unless asked), and ``USE news``. The views (``articles``,
``feed_fetches``, ``stories``, ``failures``) live in the lake's catalog, created by its migrations, so
attaching is all they need. Every value in the statements is quoted by one helper,
:func:`warehouse.connection.sql_string`.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from core.errors import PermanentError
from warehouse.connection import connect
from warehouse.lake import (
    LAKE,
    WarehouseBusyError,
    attach_statement,
    extension_path,
    lake_extensions,
    lake_of,
    sql_string,
    without_password,
)
from warehouse.locks import warehouse_lock

CLI_PACKAGE = "duckdb-cli"
# The one line attach-sql starts with (an SQL comment, so the output can be piped as it is).
NEEDS_VERSION = (
    "-- needs DuckDB {version} (pip install duckdb=={version} or duckdb-cli=={version}): "
    "its extensions are loaded from wirehouse's wheels"
)
# Nothing is ever downloaded: the extensions come from the wheels, by path.
_NO_DOWNLOADS = (
    "SET autoinstall_known_extensions = false;",
    "SET autoload_known_extensions = false;",
)
# Said instead of the password of a PostgreSQL catalog, which is never printed nor put on a command line.
PASSWORD_LEFT_OUT = (
    "-- the catalog's password is left out of these lines: start DuckDB with PGPASSWORD set to it "
    "(or give it a line in ~/.pgpass, libpq's passfile)"
)
_LOAD = "LOAD {path};"
_USE = f"USE {LAKE};"


class ShellError(PermanentError):
    """The shell cannot be started (no lake, no DuckDB command line); the message is one line."""


def duckdb_version() -> str:
    """The DuckDB version wirehouse runs (and its extension wheels are built for)."""
    return metadata.version("duckdb")


def attach_lines(warehouse: Path | str, *, write: bool = False) -> list[str]:
    """The statements that open the lake in a DuckDB session of its own, one per line.

    Args:
        warehouse: A path (embedded lake) or a PostgreSQL address.
        write: Attach for writing (default: read-only).

    Returns:
        SET, LOAD, ATTACH and USE statements, each ending in ``;``.

    Raises:
        WarehouseError: An extension wheel is missing.
    """
    lake, _password = without_password(lake_of(warehouse))
    loads = [
        _LOAD.format(path=sql_string(str(extension_path(name).absolute()))) for name in lake_extensions(lake)
    ]
    attach = attach_statement(lake, read_only=not write) + ";"
    return [*_NO_DOWNLOADS, *loads, attach, _USE]


def attach_sql(warehouse: Path | str, *, write: bool = False) -> str:
    """What `wirehouse attach-sql` prints: the version line, then :func:`attach_lines`.

    Args:
        warehouse: The lake (must exist: the lines are checked by opening it once).
        write: Attach for writing.

    Returns:
        The text, ending in a newline.
    """
    check_lake(warehouse)
    lines = [NEEDS_VERSION.format(version=duckdb_version())]
    if without_password(lake_of(warehouse))[1] is not None:
        lines.append(PASSWORD_LEFT_OUT)
    lines += attach_lines(warehouse, write=write)
    return "\n".join(lines) + "\n"


def check_lake(warehouse: Path | str) -> None:
    """Open the lake once, read-only: a missing or unusable lake is one line here, not in DuckDB's shell.

    This also converts an older single-file warehouse, as every command that opens it does.

    Raises:
        WarehouseError: No lake at the path, or it cannot be attached.
    """
    connect(warehouse, read_only=True).close()


def cli_binary() -> Path:
    """The DuckDB command line of the ``duckdb-cli`` wheel, which must be DuckDB's own version.

    Returns:
        The executable.

    Raises:
        ShellError: The wheel is missing, has no executable, or is another version.
    """
    wanted = duckdb_version()
    install = f"install it: pip install {CLI_PACKAGE}=={wanted}"
    spec = importlib.util.find_spec("duckdb_cli")
    if spec is None or spec.origin is None:
        raise ShellError(f"the DuckDB command line is missing ({CLI_PACKAGE}); {install}")
    binary = Path(spec.origin).parent / ("duckdb.exe" if sys.platform == "win32" else "duckdb")
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise ShellError(f"the DuckDB command line is missing ({binary} is not an executable); {install}")
    try:
        found = metadata.version(CLI_PACKAGE)
    except metadata.PackageNotFoundError:
        found = None
    if found is not None and found != wanted:
        raise ShellError(f"{CLI_PACKAGE} {found} cannot load the extensions of DuckDB {wanted}; {install}")
    return binary


def shell_command(warehouse: Path | str, *, write: bool = False) -> list[str]:
    """The command line of `wirehouse shell`: the binary and one ``-cmd`` per statement.

    Args:
        warehouse: The lake (checked first).
        write: Attach for writing.

    Returns:
        argv for :func:`os.execv`.
    """
    binary = cli_binary()
    check_lake(warehouse)
    argv = [str(binary)]
    for statement in attach_lines(warehouse, write=write):
        argv += ["-cmd", statement]
    return argv


def exec_shell(warehouse: Path | str, *, write: bool = False) -> int:
    """Run DuckDB's shell on the lake (its terminal and Ctrl-C are DuckDB's).

    This process becomes the shell, except for a writing shell on a PostgreSQL catalog: its lock is a
    lease that needs renewing, so wirehouse holds it, as every writer does, while the shell runs as
    its child. A catalog's password reaches DuckDB as ``PGPASSWORD``, never on its command line.

    Args:
        warehouse: The lake.
        write: Attach for writing.

    Returns:
        The shell's exit status (only when it ran as a child).

    Raises:
        ShellError: The shell could not be started, or an ingest holds the lock.
    """
    argv = shell_command(warehouse, write=write)
    lake, password = without_password(lake_of(warehouse))
    env = dict(os.environ) if password is None else {**os.environ, "PGPASSWORD": password}
    if write and lake.embedded:
        _keep_run_lock(warehouse)
    if sys.stdin.isatty():  # piped SQL gets DuckDB's output only
        mode = "for writing" if write else "read-only"
        print(
            f"wirehouse: {lake.name if lake.embedded else 'the lake'} attached {mode} as {LAKE}; "
            "try `from articles limit 5;`, `.tables`, `.quit`",
            file=sys.stderr,
        )
    sys.stdout.flush()
    sys.stderr.flush()
    if write and not lake.embedded:
        return _run_under_lease(warehouse, argv, env)
    try:
        os.execve(argv[0], argv, env)
    except OSError as exc:
        raise ShellError(f"cannot start {argv[0]}: {exc.strerror}") from exc


def _run_under_lease(warehouse: Path | str, argv: list[str], env: dict[str, str]) -> int:
    """Hold a PostgreSQL catalog's run lock (renewed meanwhile) while the shell runs as a child."""
    try:
        with warehouse_lock(warehouse, timeout=0.0):
            # Ctrl-C is the shell's (it cancels a query there); this process only waits for it to end.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                return subprocess.call(argv, env=env)
            except OSError as exc:
                raise ShellError(f"cannot start {argv[0]}: {exc.strerror}") from exc
            finally:
                signal.signal(signal.SIGINT, previous)
    except WarehouseBusyError:
        raise ShellError(_BUSY) from None


_BUSY = "an ingest is writing the warehouse; use --write when it has finished (without --write the shell reads at once)"


def _keep_run_lock(warehouse: Path | str) -> None:
    """Take an embedded lake's run lock for the writing shell: its descriptor survives the exec.

    DuckDB then holds it until its shell ends, so an ingest waits for the shell (and says so), and a
    shell never writes under a running ingest.

    Raises:
        ShellError: An ingest holds the lock.
    """
    lake = lake_of(warehouse)
    try:
        fd = os.open(lake.lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ShellError(f"cannot write the lock file {lake.lock}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ShellError(
            f"an ingest is writing warehouse {lake.name}; use --write when it has finished "
            "(without --write the shell reads at once)"
        ) from None
    os.set_inheritable(fd, True)
