"""Benchmark raw HTML compression for re-processing: bytes per page in the column and in a real lake, and ms per page.

The corpus pages (../shared/corpora/fundus, fundus-world and trafilatura-eval, read in place) are split
in two by a hash of their URL: the dictionaries are trained on one half (as a lake would train them on
the pages it stored before), every codec is measured on the other. Per codec: the mean stored bytes per
page (the ``html`` column), the mean compress and decompress time per page (best of ``--repeat``;
``reprocess`` pays the decompression, the workers the compression), and the bytes per page the lake's
Parquet files take when the measured pages are stored in ``raw_pages`` of a fresh lake (DuckLake
compresses Parquet columns itself, so that is what a user pays on disk). The per-host dictionary is a
zstd raw-content dictionary of the host's training pages; it is measured on the pages whose host has
some, and the zstd-3 figure on the same pages is printed beside it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import zstandard

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
DEFAULT_CORPORA = [SHARED / "fundus", SHARED / "fundus-world", SHARED / "trafilatura-eval"]
SHARED_DICT_BYTES = 112 * 1024  # zstd's customary dictionary size
HOST_DICT_BYTES = 256 * 1024  # at most this much of a host's training pages
ZLIB_LEVEL = 3  # the format of wirehouse 0.1 (core.rawhtml reads it still)
_RAW_FILES = "SELECT data_file, data_file_size_bytes FROM ducklake_list_files('news', 'raw_pages')"
_SET_PARQUET = "CALL news.set_option('parquet_compression', ?)"
_CODEC = "SELECT DISTINCT compression FROM parquet_metadata(?) WHERE path_in_schema = 'html'"


def corpus_pages(folders: list[Path]) -> list[tuple[str, bytes]]:
    """(url, html) of every page with a truth line, in the folders that exist."""
    pages = []
    for folder in folders:
        if not (folder / "truth.jsonl").is_file():
            continue
        for line in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            pages.append((entry["url"], gzip.decompress((folder / entry["file"]).read_bytes())))
    return pages


def host(url: str) -> str:
    """The host a page came from (``www.`` dropped: the same site)."""
    name = urlsplit(url).hostname or ""
    return name.removeprefix("www.")


def split(pages: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """Training and measured halves, by a hash of the URL (the same split on every run)."""
    train: list[tuple[str, bytes]] = []
    test: list[tuple[str, bytes]] = []
    for url, html in pages:
        (train if hashlib.sha1(url.encode()).digest()[0] % 2 else test).append((url, html))
    return train, test


def timed(func: Callable[[bytes], bytes], items: list[bytes], repeat: int) -> tuple[list[bytes], float]:
    """Apply func to every item; the outputs and the best mean ms per item over ``repeat`` passes."""
    best = float("inf")
    out: list[bytes] = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = [func(item) for item in items]
        best = min(best, (time.perf_counter() - started) * 1000 / max(len(items), 1))
    return out, best


def lake_bytes(
    folder: Path, name: str, urls: list[str], stored: list[bytes], codec: str, parquet: str | None
) -> tuple[float, str]:
    """Store the pages in raw_pages of a fresh lake; its Parquet bytes per page and the codec DuckLake wrote.

    ``parquet`` sets the lake's Parquet codec (None: DuckLake's default).
    """
    from warehouse.articles import RAW_SCHEMA
    from warehouse.connection import execute_with, open_warehouse

    now = datetime.now(UTC)
    table = pa.table(
        {
            "url": urls,
            "fetched_at": [now] * len(urls),
            "charset": ["utf-8"] * len(urls),
            "compression": [codec] * len(urls),
            "html": stored,
        },
        schema=RAW_SCHEMA,
    )
    with open_warehouse(folder / f"{name}.sqlite", migrate=True) as con:
        if parquet:
            con.execute(_SET_PARQUET, [parquet])
        execute_with(con, "raw_batch", table, "INSERT INTO raw_pages BY NAME (SELECT * FROM raw_batch)")
        files = con.execute(_RAW_FILES).fetchall()
        written = {str(r[0]) for f, _ in files for r in con.execute(_CODEC, [f]).fetchall()}
    return sum(int(size) for _, size in files) / max(len(urls), 1), "/".join(sorted(written))


def print_table(
    rows: list[tuple[str, int, float, float, float, float, str]],
    pages: list[tuple[str, bytes]],
    train: list[tuple[str, bytes]],
    test: list[tuple[str, bytes]],
    sibling: list[int],
    raw_mean: float,
    htmls: list[bytes],
) -> None:
    """Print the measurements as one table (Markdown's pipes, as docs/storage.md shows it)."""
    print(
        f"{len(pages)} corpus pages ({len(train)} train the dictionaries, {len(test)} measured; "
        f"{len(sibling)} of them have a host in the training half); raw HTML {raw_mean / 1024:.1f} KB/page"
    )
    header = (
        "codec",
        "pages",
        "column KB/page",
        "ratio",
        "compress ms",
        "decompress ms",
        "lake KB/page",
        "Parquet codec",
    )
    print(" | ".join(header))
    for label, count, mean, c_ms, d_ms, on_disk, codec in rows:
        subset_raw = raw_mean if count == len(htmls) else sum(len(htmls[i]) for i in sibling) / len(sibling)
        print(
            f"{label} | {count} | {mean / 1024:.1f} | {100 * mean / subset_raw:.1f} % | {c_ms:.2f} | {d_ms:.2f}"
            f" | {on_disk / 1024:.1f} | {codec}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", help="corpus folder (default: the three)")
    parser.add_argument("--repeat", type=int, default=3, help="passes per timing (best is kept)")
    args = parser.parse_args()
    pages = corpus_pages(args.corpus or DEFAULT_CORPORA)
    if not pages:
        raise SystemExit(f"no corpus pages found (looked in {', '.join(map(str, DEFAULT_CORPORA))})")
    train, test = split(pages)
    urls = [u for u, _ in test]
    htmls = [h for _, h in test]
    raw_mean = sum(map(len, htmls)) / len(htmls)

    # A small corpus (the tests') cannot fill zstd's customary dictionary size.
    size = min(SHARED_DICT_BYTES, max(1024, sum(len(h) for _, h in train) // 100))
    shared = zstandard.train_dictionary(size, [h for _, h in train], level=3)
    by_host: dict[str, list[bytes]] = defaultdict(list)
    for url, html in train:
        by_host[host(url)].append(html)
    host_dicts = {
        name: zstandard.ZstdCompressionDict(
            b"".join(reversed(items))[-HOST_DICT_BYTES:], dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        for name, items in by_host.items()
    }
    sibling = [i for i, u in enumerate(urls) if host(u) in host_dicts]

    def zstd(level: int, dictionary: zstandard.ZstdCompressionDict | None = None) -> Callable[[bytes], bytes]:
        return zstandard.ZstdCompressor(level=level, dict_data=dictionary).compress

    def unzstd(dictionary: zstandard.ZstdCompressionDict | None = None) -> Callable[[bytes], bytes]:
        return zstandard.ZstdDecompressor(dict_data=dictionary).decompress

    rows: list[tuple[str, int, float, float, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="wirehouse-rawhtml-") as tmp:
        folder = Path(tmp)

        def measure(
            label: str,
            chosen: list[int],
            compress: Callable[[bytes], bytes],
            decompress: Callable[[bytes], bytes],
            extra: str = "",
            parquet: str | None = None,
        ) -> None:
            items = [htmls[i] for i in chosen]
            stored, c_ms = timed(compress, items, args.repeat)
            back, d_ms = timed(decompress, stored, args.repeat)
            assert back == items, label
            on_disk, codec = lake_bytes(
                folder, label.replace(" ", "_"), [urls[i] for i in chosen], stored, label, parquet
            )
            mean = sum(map(len, stored)) / len(stored)
            rows.append((label, len(chosen), mean, c_ms, d_ms, on_disk, f"{codec} {extra}".strip()))

        every = list(range(len(htmls)))
        measure("none", every, bytes, bytes)
        measure("none, Parquet zstd", every, bytes, bytes, parquet="zstd")
        measure(f"zlib-{ZLIB_LEVEL}", every, lambda h: zlib.compress(h, ZLIB_LEVEL), zlib.decompress)
        for level in (3, 9, 19):
            measure(f"zstd-{level}", every, zstd(level), unzstd())
        measure(
            "zstd-3 shared dict",
            every,
            zstd(3, shared),
            unzstd(shared),
            f"+{len(shared.as_bytes()) // 1024} KB dict",
        )
        # Per-host dictionaries: only pages whose host has training pages; zstd-3 on the same pages beside it.
        if sibling:
            measure("zstd-3 (host subset)", sibling, zstd(3), unzstd())
            host_of = {i: host_dicts[host(urls[i])] for i in sibling}
            compressors = {id(d): zstandard.ZstdCompressor(level=3, dict_data=d) for d in host_dicts.values()}
            decompressors = {id(d): zstandard.ZstdDecompressor(dict_data=d) for d in host_dicts.values()}
            by_page = {htmls[i]: id(host_of[i]) for i in sibling}
            stored_of: dict[bytes, int] = {}

            def host_compress(html: bytes) -> bytes:
                out = compressors[by_page[html]].compress(html)
                stored_of[out] = by_page[html]
                return out

            def host_decompress(stored: bytes) -> bytes:
                return decompressors[stored_of[stored]].decompress(stored)

            dict_kb = sum(len(d.as_bytes()) for d in {id(d): d for d in host_of.values()}.values()) // 1024
            measure("zstd-3 host dict", sibling, host_compress, host_decompress, f"+{dict_kb} KB dicts")

    print_table(rows, pages, train, test, sibling, raw_mean, htmls)


if __name__ == "__main__":
    main()
