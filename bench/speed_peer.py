"""The peer of the speed bench: the trafilatura command line over the served URLs."""

from __future__ import annotations

import configparser
import importlib.util
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PEER_PARALLEL = 4


@dataclass(frozen=True)
class PeerResult:
    """The trafilatura command line over the served URLs."""

    pages: int
    seconds: float
    discarded: int  # downloaded, but trafilatura found no text ("discarding data" warnings)
    failed_downloads: int  # "No result for URL" warnings
    returncode: int

    @property
    def with_text(self) -> int:
        """Pages that gave text."""
        return self.pages - self.discarded - self.failed_downloads


def trafilatura_config(path: Path) -> Path:
    """Write a copy of trafilatura's settings.cfg that may fetch from loopback without delays.

    ``SSRF_PROTECTION = off`` lets it connect to 127.0.0.1 (otherwise every non-global peer address is
    refused after connect); ``SLEEP_TIME = 0`` drops the 5 s pause between two requests to one host,
    which would otherwise pace the whole run (all pages live on one host).

    Args:
        path: Where to write the file.

    Returns:
        ``path``.
    """
    spec = importlib.util.find_spec("trafilatura")
    if spec is None or spec.origin is None:
        raise RuntimeError("trafilatura is not installed")
    config = configparser.ConfigParser()
    config.optionxform = str  # type: ignore[assignment,method-assign]  # keep the upper-case keys
    config.read(Path(spec.origin).parent / "settings.cfg", encoding="utf-8")
    for key in ("SSRF_PROTECTION", "SLEEP_TIME"):
        if not config.has_option("DEFAULT", key):
            raise RuntimeError(f"trafilatura's settings.cfg has no {key}: check the peer configuration")
    config["DEFAULT"]["SSRF_PROTECTION"] = "off"
    config["DEFAULT"]["SLEEP_TIME"] = "0"
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)
    return path


def peer_command(urls_file: Path, output_dir: Path, config_file: Path) -> list[str]:
    """The trafilatura command line the peer measurement runs."""
    executable = Path(sys.executable).parent / "trafilatura"
    return [
        str(executable),
        "-i",
        str(urls_file),
        "--parallel",
        str(PEER_PARALLEL),
        "-o",
        str(output_dir),
        "--output-format",
        "json",
        "--with-metadata",
        "--config-file",
        str(config_file),
    ]


def measure_peer(urls: Sequence[str], workdir: Path) -> PeerResult:
    """Time the trafilatura command line downloading and extracting every URL.

    Args:
        urls: The served page URLs.
        workdir: A scratch folder.

    Returns:
        The measurement.
    """
    urls_file = workdir / "urls.txt"
    urls_file.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    output_dir = workdir / "peer-output"
    command = peer_command(urls_file, output_dir, trafilatura_config(workdir / "trafilatura.cfg"))
    with (workdir / "peer.log").open("wb") as log:
        started = time.perf_counter()
        completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.perf_counter() - started
    # Output files are named by a hash of their content, so copies of a page share one file: count
    # the CLI's own warnings instead (it logs at WARNING by default).
    text = (workdir / "peer.log").read_text(encoding="utf-8", errors="replace")
    return PeerResult(
        len(urls),
        seconds,
        text.count("discarding data"),
        text.count("No result for URL"),
        completed.returncode,
    )
