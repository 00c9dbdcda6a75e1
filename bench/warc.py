"""Benchmark archive reading: warcio vs fastwarc, and wirehouse's reader, on WARC files of corpus pages.

The corpus pages (../shared/corpora/fundus and fundus-world) are written as response records into WARC
files in a temporary folder (never into the project), each page ``--copies`` times under distinct URLs,
once gzipped per record (as crawlers and CC-NEWS write them) and once plain. Each reader reads every
response record with its payload (HTTP headers parsed, body read to the end); best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bench.cluster import WORKERS

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
DEFAULT_CORPORA = [SHARED / "fundus", SHARED / "fundus-world"]


def corpus_pages(folders: list[Path]) -> list[tuple[str, bytes]]:
    """(url, html) of every page with its truth line."""
    pages = []
    for folder in folders:
        for line in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            pages.append((entry["url"], gzip.decompress((folder / entry["file"]).read_bytes())))
    return pages


def write_archive(path: Path, pages: list[tuple[str, bytes]], copies: int, *, compress: bool) -> int:
    """Write each page ``copies`` times as a response record; returns the number of records."""
    count = 0
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=compress)
        for copy in range(copies):
            for url, html in pages:
                headers = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                )
                separator = "&" if "?" in url else "?"
                record = writer.create_warc_record(
                    f"{url}{separator}copy={copy}", "response", payload=io.BytesIO(html), http_headers=headers
                )
                writer.write_record(record)
                count += 1
    return count


def read_warcio(path: Path) -> tuple[int, int]:
    from warcio.archiveiterator import ArchiveIterator

    records = size = 0
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                size += len(record.content_stream().read())
                records += 1
    return records, size


def read_fastwarc(path: Path) -> tuple[int, int]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    records = size = 0
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
            size += len(record.reader.read())
            records += 1
    return records, size


def read_wirehouse(path: Path) -> tuple[int, int]:
    from tasks.warc import ArchiveRecord, read_archive

    records = size = 0
    with path.open("rb") as stream:
        for item in read_archive(stream):
            if isinstance(item, ArchiveRecord):
                size += len(item.body)
                records += 1
    return records, size


READERS: dict[str, Callable[[Path], tuple[int, int]]] = {
    "warcio": read_warcio,
    "fastwarc": read_fastwarc,
    "wirehouse (tasks.warc)": read_wirehouse,
}


def best_of(reader: Callable[[Path], tuple[int, int]], path: Path, repeat: int) -> tuple[float, int, int]:
    best = float("inf")
    records = size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        records, size = reader(path)
        best = min(best, time.perf_counter() - started)
    return best, records, size


def bench_backfill(path: Path, pages: int, tmp: Path, dask_address: str | None = None) -> float | None:
    """Run `wirehouse backfill` on the gzipped file into a fresh warehouse: pages/s, process and flow.

    Args:
        path: The archive.
        pages: Its records.
        tmp: Scratch folder.
        dask_address: Extract on this Dask cluster instead of the local process pool.

    Returns:
        In-flow pages/s; None when the backfill failed.
    """
    import os
    import subprocess

    label = "dask" if dask_address else "local"
    warehouse = tmp / f"backfill-{label}.sqlite"
    command = [sys.executable, "-m", "wirehouse.cli", "backfill", str(path), "--warehouse", str(warehouse)]
    if dask_address:
        command += ["--dask-address", dask_address]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_HOME": str(tmp / "prefect-home")},
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        print(f"bench.warc: backfill failed: {result.stderr.strip()[-2000:]}", file=sys.stderr)
        return None
    summary = [
        line for line in result.stdout.splitlines() if line.startswith(("articles stored", "warehouse"))
    ]
    flow_seconds = float(summary[-1].rsplit("(", 1)[1].split()[0])
    where = f"a {WORKERS}-worker Dask cluster on this machine" if dask_address else "local process pool"
    print(f"\nwirehouse backfill, {where}: {pages:,} pages")
    print(
        f"  process wall {wall:6.1f} s  {pages / wall:6.1f} pages/s  (python start, temporary Prefect server or"
    )
    print("                                            PREFECT_API_URL's, flow)")
    print(f"  in-flow      {flow_seconds:6.1f} s  {pages / flow_seconds:6.1f} pages/s")
    print("  " + summary[0])
    return pages / flow_seconds


def bench_backfill_both(path: Path, pages: int, tmp: Path) -> None:
    """Backfill with the local pool, then on a 2-worker Dask cluster on the same cores; print the overhead."""
    from tasks.cpu import WORKER_NICENESS
    from tests.support.daskcluster import dask_cluster

    local = bench_backfill(path, pages, tmp)
    # The cluster's workers get the local workers' lower priority, so both sides run on the same terms.
    with dask_cluster(tmp / "dask", WORKERS, niceness=WORKER_NICENESS) as cluster:
        dask = bench_backfill(path, pages, tmp, cluster.address)
    if local and dask:
        overhead = 1 - dask / local
        verdict = "ok" if overhead <= 0.15 else "over the 15% target"
        print(f"\nbackfill cluster overhead: {overhead:.1%} of the local pool's in-flow pages/s ({verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, action="append", help="corpus folder (repeatable)")
    parser.add_argument("--copies", type=int, default=20, help="records per corpus page (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader, best kept (default 3)")
    parser.add_argument(
        "--backfill",
        type=int,
        default=0,
        metavar="COPIES",
        help=(
            "also backfill a gzipped WARC of the pages, COPIES times each, into a fresh warehouse: with"
            " the local process pool, then on a 2-worker Dask cluster on the same cores"
        ),
    )
    args = parser.parse_args(argv)
    folders = args.corpus or DEFAULT_CORPORA
    missing = [str(f) for f in folders if not (f / "truth.jsonl").is_file()]
    if missing:
        print(f"bench.warc: corpus not found: {', '.join(missing)}", file=sys.stderr)
        return 1
    pages = corpus_pages(folders)
    with tempfile.TemporaryDirectory(prefix="wirehouse-bench-warc-") as tmp:
        files = {}
        for kind, compress in (("gzip per record", True), ("plain", False)):
            path = Path(tmp) / ("bench.warc.gz" if compress else "bench.warc")
            count = write_archive(path, pages, args.copies, compress=compress)
            files[kind] = (path, count)
        print(
            f"{len(pages)} corpus pages x {args.copies} copies; best of {args.repeat}; one process, "
            "every response's HTTP headers parsed and payload read\n"
        )
        header = (
            f"{'reader':<24}{'file':<18}{'records':>8}{'MiB':>8}{'seconds':>9}{'records/s':>11}{'MiB/s':>8}"
        )
        print(header)
        print("-" * len(header))
        rates: dict[tuple[str, str], float] = {}
        for kind, (path, count) in files.items():
            mib = path.stat().st_size / 2**20
            for name, reader in READERS.items():
                seconds, records, _ = best_of(reader, path, args.repeat)
                if records != count:
                    print(f"bench.warc: {name} read {records} of {count} records", file=sys.stderr)
                    return 1
                rates[(name, kind)] = records / seconds
                print(
                    f"{name:<24}{kind:<18}{records:>8,}{mib:>8.1f}{seconds:>9.2f}"
                    f"{records / seconds:>11,.0f}{mib / seconds:>8.1f}"
                )
        print()
        for kind in files:
            ratio = rates[("fastwarc", kind)] / rates[("warcio", kind)]
            print(f"fastwarc/warcio ({kind}): {ratio:.1f}x")
        if args.backfill:
            path = Path(tmp) / "backfill.warc.gz"
            count = write_archive(path, pages, args.backfill, compress=True)
            bench_backfill_both(path, count, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
