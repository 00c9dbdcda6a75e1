"""Settings: defaults, overlaid by a TOML settings file, overlaid by WIREHOUSE_* environment variables."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from core.errors import PermanentError

PROJECT_URL = "https://github.com/wirehouse-news/wirehouse"
VERSION = "0.1.0"

# Prefect's temporary server (used when PREFECT_API_URL is unset) otherwise prints telemetry errors and
# shutdown tracebacks, and its task-run recorder drops most task-run records at exit. The project sets
# these itself so that users never have to; an explicit value in the environment still wins.
PREFECT_DEFAULTS: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "10000",
}
# Arrow's bundled allocator keeps what a run's per-batch tables free for itself, apart from the memory
# Python and DuckDB reuse; with the system allocator the flow's process of a 10,080-page ingest peaked at
# 995 instead of 1,140 MiB (one run each, both with the DuckDB cap). Read by pyarrow when it first allocates.
ARROW_DEFAULTS: dict[str, str] = {"ARROW_DEFAULT_MEMORY_POOL": "system"}

DEFAULT_WAREHOUSE = Path("warehouse") / "news.sqlite"
# The bundled sample newsroom's host: its URLs never carry the port it is served on, so a demo on
# another port finds its articles stored already. tasks/http.py sends this name to 127.0.0.1 (it never
# goes to DNS), on the port it is served on (the demo_port setting, else the lake's, else DEMO_PORT).
DEMO_HOST = "newsroom.localhost"
DEMO_PORT = 8765
MIN_WAREHOUSE_MEMORY_MB = 64


class SettingsError(PermanentError, ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Everything tunable about a run; frozen so it can be shared by tasks and threads."""

    warehouse_path: Path = DEFAULT_WAREHOUSE
    # Hosts (names or IP literals, as written in URLs) that may resolve to private/loopback addresses.
    allow_private_hosts: frozenset[str] = field(default_factory=frozenset)
    user_agent: str = f"wirehouse/{VERSION} (+{PROJECT_URL})"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_redirects: int = 5
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    host_delay: float = 1.0
    host_concurrency: int = 2
    robots: bool = True
    max_new_per_feed: int = 500
    fetch_workers: int = 16
    cpu_workers: int = 0  # processes for extraction and enrichment; 0: one per CPU core
    batch_size: int = 50
    feed_retries: int = 2
    retry_delay: float = 2.0
    lock_timeout: float = 600.0  # seconds an ingest waits for another one on the same warehouse
    # DuckDB's memory limit while a run holds the warehouse. DuckDB's default (80 % of RAM) lets it keep
    # every block a run writes cached, so a long run's memory grows with what it stores; a limit keeps it
    # flat at the same speed. Queries that need more spill to disk; 0 leaves DuckDB's default.
    warehouse_memory_mb: int = 256
    # A lake with a PostgreSQL catalog: the data folder (shared by the machines) or s3:// prefix; only
    # needed when the catalog is created, which remembers it. Embedded lakes keep theirs beside the catalog.
    data_path: str = ""
    # A running Dask scheduler (tcp://host:8786) to send the extraction and enrichment of batches to;
    # empty: the local process pool of cpu_workers processes.
    dask_address: str = ""
    # Hours a Parquet file no commit references stays before the maintenance flow deletes it: a
    # transaction writes its files before it commits, so a younger one may belong to a run still going.
    orphan_grace_hours: float = 24.0
    # Days a page's raw HTML is kept after its fetch; the maintenance flow deletes older raw HTML (the
    # article stays, but `reprocess` cannot redo it). None: kept always.
    raw_html_days: int | None = None
    # The loopback port the sample newsroom is served on now (`wirehouse demo` sets it, and the lake
    # remembers it); 0: the port the lake remembers from the last demo, else DEMO_PORT.
    demo_port: int = 0
    # Seconds after an article was first stored at which it is fetched again for later versions
    # (headline changes, corrections, removals): ``1h,6h,24h,72h``; empty (``off``): never.
    recheck_after: tuple[float, ...] = (3600.0, 6 * 3600.0, 24 * 3600.0, 72 * 3600.0)
    # A run's re-checks: at least recheck_min, else this share of its new articles, at most
    # recheck_per_host per host; they start after the run's new articles, so those always come first.
    recheck_share: float = 0.5
    recheck_min: int = 50
    recheck_per_host: int = 10


_FIELD_TYPES: dict[str, type] = {
    "warehouse_path": Path,
    "allow_private_hosts": frozenset,
    "user_agent": str,
    "connect_timeout": float,
    "read_timeout": float,
    "total_timeout": float,
    "max_redirects": int,
    "max_feed_bytes": int,
    "max_page_bytes": int,
    "host_delay": float,
    "host_concurrency": int,
    "robots": bool,
    "max_new_per_feed": int,
    "fetch_workers": int,
    "cpu_workers": int,
    "batch_size": int,
    "feed_retries": int,
    "retry_delay": float,
    "lock_timeout": float,
    "warehouse_memory_mb": int,
    "data_path": str,
    "dask_address": str,
    "orphan_grace_hours": float,
    "raw_html_days": int,
    "demo_port": int,
    "recheck_after": tuple,
    "recheck_share": float,
    "recheck_min": int,
    "recheck_per_host": int,
}

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_AGE_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_ages(value: Any) -> tuple[float, ...]:
    """Read re-check ages (``1h,6h,24h,72h``, ``5s``, ``off``) as increasing seconds.

    Args:
        value: A comma-separated string, or a TOML list of such strings or numbers (seconds).

    Returns:
        The ages in seconds, increasing; empty for ``off``.

    Raises:
        SettingsError: An age that is not a positive number with an optional unit s, m, h or d, or
            ages that do not increase.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    texts = [str(item).strip().lower() for item in items if str(item).strip()]
    if texts in ([], ["off"], ["none"], ["0"]):
        return ()
    ages: list[float] = []
    for text in texts:
        match = _AGE.match(text)
        if not match or float(match.group(1)) <= 0:
            raise SettingsError(
                f"setting 'recheck_after' needs ages like 1h,6h,24h,72h (units s, m, h, d) or off (got {text!r})"
            )
        ages.append(float(match.group(1)) * _AGE_UNITS[match.group(2)])
    if any(later <= earlier for earlier, later in itertools.pairwise(ages)):
        raise SettingsError(f"setting 'recheck_after' must list increasing ages (got {value!r})")
    return tuple(ages)


def postgres_conninfo(url: str) -> str:
    """Turn a ``postgresql://user:password@host:port/dbname?option=value`` URL into ``postgres:key=value ...``.

    A path keeps such a URL's ``//`` only as ``/``; the key=value form survives being a Path, and it is
    what the warehouse hands to PostgreSQL.

    Args:
        url: The URL.

    Returns:
        ``postgres:`` and libpq's key=value connection string.
    """
    parts = urlsplit(url)
    pairs = {
        "host": unquote(parts.hostname or ""),
        "port": str(parts.port or ""),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/")),
        **{k: v for k, v in parse_qsl(parts.query)},
    }

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return "postgres:" + " ".join(f"{k}={quoted(v)}" for k, v in pairs.items() if v)


def _coerce(name: str, value: Any) -> Any:
    """Turn a raw value from TOML or the environment into the field's type, or raise SettingsError."""
    kind = _FIELD_TYPES[name]
    if kind is tuple:
        return parse_ages(value)
    try:
        if kind is frozenset:
            items = value.split(",") if isinstance(value, str) else list(value)
            return frozenset(str(item).strip().lower() for item in items if str(item).strip())
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "on", "true", "yes"}:
                return True
            if text in {"0", "off", "false", "no"}:
                return False
            raise ValueError(value)
        if kind is Path:
            text = str(value)
            if text.startswith(("postgresql://", "postgres://")):
                return Path(postgres_conninfo(text))
            return Path(text).expanduser()
        coerced = kind(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r} has an unusable value {value!r}") from exc
    if kind in (int, float) and coerced < 0:
        raise SettingsError(f"setting {name!r} must not be negative (got {value!r})")
    if name == "warehouse_memory_mb" and 0 < coerced < MIN_WAREHOUSE_MEMORY_MB:
        # Below this DuckDB cannot even import a feed list (it fails with "out of memory" at 1 MiB).
        raise SettingsError(
            f"setting {name!r} must be 0 (DuckDB's default) or at least {MIN_WAREHOUSE_MEMORY_MB} (got {value!r})"
        )
    if name == "recheck_share" and coerced > 1:
        raise SettingsError(f"setting {name!r} must be a share between 0 and 1 (got {value!r})")
    if name == "raw_html_days" and coerced < 1:
        # 0 would delete the raw HTML of today's pages too; keeping it always is the unset setting.
        raise SettingsError(f"setting {name!r} must be at least 1 day, or unset to keep raw HTML always")
    return coerced


def settings_from_mappings(
    file_values: Mapping[str, Any], env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from a parsed settings file, an environment mapping and explicit overrides.

    Args:
        file_values: Keys of the settings file (field names, e.g. ``host_delay``).
        env: Environment variables; ``WIREHOUSE_<FIELD>`` (upper case) set a field.
        overrides: Values that win over both (e.g. from command-line options); ``None`` values are ignored.

    Returns:
        The merged, validated settings.
    """
    values: dict[str, Any] = {}
    for name, value in file_values.items():
        if name not in _FIELD_TYPES:
            raise SettingsError(f"unknown setting {name!r} in the settings file")
        values[name] = _coerce(name, value)
    for name in _FIELD_TYPES:
        raw = env.get(f"WIREHOUSE_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw)
    # WIREHOUSE_WAREHOUSE is the short, documented name for the warehouse path.
    if env.get("WIREHOUSE_WAREHOUSE"):
        values["warehouse_path"] = _coerce("warehouse_path", env["WIREHOUSE_WAREHOUSE"])
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return dataclasses.replace(Settings(), **values)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings file (``WIREHOUSE_SETTINGS`` or ``./wirehouse.toml``) and the environment.

    Args:
        **overrides: Field values that win over file and environment; ``None`` means "not given".

    Returns:
        The settings for this process.
    """
    path = Path(os.environ.get("WIREHOUSE_SETTINGS", "wirehouse.toml"))
    file_values: dict[str, Any] = {}
    if path.is_file():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8")).get("wirehouse", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    elif "WIREHOUSE_SETTINGS" in os.environ:
        raise SettingsError(f"settings file {path} does not exist")
    return settings_from_mappings(file_values, os.environ, overrides)


def apply_prefect_defaults() -> None:
    """Set the project's Prefect (and Arrow allocator) defaults in this process's environment unless the user set them."""
    for name, value in {**PREFECT_DEFAULTS, **ARROW_DEFAULTS}.items():
        os.environ.setdefault(name, value)
    # An empty PREFECT_API_URL would make Prefect talk to nowhere; empty means "not set" here.
    if os.environ.get("PREFECT_API_URL", None) == "":
        del os.environ["PREFECT_API_URL"]


# glibc gives each thread its own malloc arena (up to 8 per core); a run's many short-lived threads
# (feeds, batches, DuckDB, Prefect) then leave memory spread over arenas that is never returned.
# Measured on a 2,520-page ingest: peak RSS of the flow's process 997 -> 854 MiB with two arenas.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (the MALLOC_ARENA_MAX setting, applied at run time).

    Args:
        arenas: Arenas to allow; the user's own MALLOC_ARENA_MAX wins.

    Returns:
        Whether the cap was applied (False off glibc, or where the user set MALLOC_ARENA_MAX).
    """
    import ctypes
    import ctypes.util

    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False


def prepare_process() -> None:
    """Ready this process for a run: the project's Prefect defaults (before prefect is imported) and fewer arenas.

    Called where a run starts (``flows``, each flow module, the CLI's ``main``), never on import of a
    library module: ``import wirehouse`` or ``import tasks`` leaves a notebook's environment alone.
    """
    apply_prefect_defaults()
    limit_malloc_arenas()


def export_settings(**values: Any) -> None:
    """Set WIREHOUSE_* variables in this process so flows started from it see them (the demo uses this).

    Args:
        **values: Field names and values; tuples/sets are joined with commas.
    """
    for name, value in values.items():
        if name not in _FIELD_TYPES:
            raise SettingsError(f"unknown setting {name!r}")
        text = ",".join(sorted(value)) if isinstance(value, set | frozenset | tuple | list) else str(value)
        _coerce(name, text)  # fail here, not later inside a flow
        os.environ[f"WIREHOUSE_{name.upper()}"] = text


@contextmanager
def exported_settings(**values: Any) -> Iterator[None]:
    """:func:`export_settings` for the length of a block; the variables are as before afterwards.

    Args:
        **values: Field names and values.

    Yields:
        Nothing; inside the block flows see the settings.
    """
    names = [f"WIREHOUSE_{name.upper()}" for name in values]
    before = {name: os.environ.get(name) for name in names}
    export_settings(**values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def wants_progress_bar() -> bool:
    """Tell whether the CLI may draw a progress bar: stderr is a terminal, not CI, not a dumb terminal."""
    import sys

    return sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
