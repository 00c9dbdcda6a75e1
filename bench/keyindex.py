"""The key index on its own: a store's lookups and record against indexes of 10k to 1M articles.

`make bench-scale` times whole stores on generated lakes, where the key index's part cannot be told
from the rest, and a 1M lake takes most of an hour to generate. This bench builds only the index (the
SQLite file `warehouse.keys` keeps beside a lake: one row per article, 64 band-key rows each) by bulk
writes, then times what `store_articles` asks of it per batch of 50 new articles:

* ``stored``: the batch's URLs looked up;
* ``candidates``: the story candidates of its 3,200 band keys within the wire-copy window;
* ``record``: the batch's rows and band keys written, with the mark.

Once with a connection per call (as before ``warehouse.keys.session``) and once on one connection (as
the store now does), alternating batch by batch on the same file. About 7 % of each batch are wire
copies of an article of the last week, so candidates are found as in a real lake; the other band
keys are random, as hashes are. The index is the file alone: no lake, no catch-up.

    python -m bench.keyindex --sizes 10000,1000000
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.lakegen import body
from tasks import wirecopy
from warehouse import keyfile, keys

BATCH = 50
COPY_SHARE = 0.07
POOL = 1_000  # recent articles with real fingerprints, the ones copies are made of
POOL_END = POOL + 1  # minutes before END the first pooled article appeared
YEAR = timedelta(days=365)
END = datetime(2026, 1, 1, tzinfo=UTC)
_MARK_TIME = "bench"


def _fingerprints(count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    found: list[bytes] = []
    while len(found) < count:
        fp = wirecopy.fingerprint(body(rng))
        if fp is not None:
            found.append(fp)
    return found


def _seen_us(i: int, pooled_from: int, first_us: int, step_us: int) -> int:
    """Articles spread over the year; the pooled ones a minute apart up to its end, inside the window at every size."""
    if i < pooled_from:
        return first_us + i * step_us
    return int(END.timestamp() * 1e6) - (POOL_END - (i - pooled_from)) * 60_000_000


def build(path: Path, articles: int, pool: Sequence[bytes], seed: int = 1) -> float:
    """Write an index of ``articles`` rows; the newest len(pool) carry the pool's fingerprints.

    Returns:
        Seconds it took.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    filler = pool[0]
    first_us = int((END - YEAR).timestamp() * 1e6)
    step_us = int(YEAR.total_seconds() * 1e6) // articles
    with keyfile.open_file(path) as db:
        db.execute("BEGIN")
        db.execute(keyfile.WRITE_MARK, [keyfile.VERSION, 1, _MARK_TIME])
        pooled_from = articles - len(pool)
        db.executemany(
            keyfile.INSERT,
            (
                (
                    f"https://www.outlet-{i % 240}.example/news/{i}.html",
                    f"https://www.outlet-{i % 240}.example/feed.xml",
                    None,
                    0,
                    1,
                    _seen_us(i, pooled_from, first_us, step_us),
                    _seen_us(i, pooled_from, first_us, step_us),
                    None,
                    pool[i - pooled_from] if i >= pooled_from else filler,
                )
                for i in range(articles)
            ),
        )
        chunk = 250_000
        bands = np.empty((articles * wirecopy.BANDS, 2), dtype=np.int64)
        bands[:, 1] = np.repeat(np.arange(1, articles + 1), wirecopy.BANDS)  # row ids from 1
        bands[:, 0] = rng.integers(-(2**62), 2**62, size=articles * wirecopy.BANDS)
        for n, fp in enumerate(pool):
            row = pooled_from + n
            bands[row * wirecopy.BANDS : (row + 1) * wirecopy.BANDS, 0] = wirecopy.band_keys(fp)
        bands = bands[np.lexsort((bands[:, 1], bands[:, 0]))]
        for at in range(0, len(bands), chunk):
            db.executemany(keyfile.ADD_BANDS, bands[at : at + chunk].tolist())
        db.execute("COMMIT")
    return time.perf_counter() - started


class Batches:
    """New batches: fresh fingerprints, and a few copies of pooled (recent) articles."""

    def __init__(self, pool: Sequence[bytes], fresh: Sequence[bytes], seed: int = 2) -> None:
        self.pool, self.fresh = pool, fresh
        self.rng = np.random.default_rng(seed)
        self.made = 0

    def next(self) -> tuple[list[str], list[int], list[keys.KeyRow]]:
        """A batch's URLs, band keys and index rows."""
        urls, band, rows = [], [], []
        seen = END
        for _ in range(BATCH):
            if self.rng.random() < COPY_SHARE:
                fp = self.pool[int(self.rng.integers(len(self.pool)))]
            else:
                fp = self.fresh[self.made % len(self.fresh)]
            url = f"https://www.new-{self.made % 97}.example/story/{self.made}.html"
            self.made += 1
            urls.append(url)
            band.extend(wirecopy.band_keys(fp))
            rows.append(keys.key_row(url, None, None, False, 1, seen, seen, None, fp))
        return urls, band, rows


def measure(path: Path, batches: Batches, count: int) -> dict[str, list[float]]:
    """Alternate ``count`` batches per way; seconds per step and way."""
    low, high = END - wirecopy.WINDOW, END + wirecopy.WINDOW
    times: dict[str, list[float]] = {}
    with keyfile.open_file(path) as db:
        snapshot = int(db.execute(keyfile.READ_MARK).fetchone()[1])
    for n in range(2 * count):
        urls, band, rows = batches.next()
        way = "one connection" if n % 2 else "a connection per call"
        if n % 2 and not hasattr(keys, "session"):  # older code (PYTHONPATH=another checkout)
            continue
        after = snapshot
        snapshot += 1
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            index = stack.enter_context(keys.session(path)) if n % 2 else None
            t0 = time.perf_counter()
            index.stored(urls) if index else keys.stored(path, urls)
            t1 = time.perf_counter()
            index.candidates(band, low, high) if index else keys.candidates(path, band, low, high)
            t2 = time.perf_counter()
            if index:
                index.record(after, snapshot, rows, {}, _MARK_TIME)
            else:
                keys.record(path, after, snapshot, rows, {}, _MARK_TIME)
            t3 = time.perf_counter()
        a, b, c = t1 - t0, t2 - t1, t3 - t2
        total = time.perf_counter() - started
        for step, seconds in (("stored", a), ("candidates", b), ("record", c), ("all three", total)):
            times.setdefault(f"{way}: {step}", []).append(seconds)
    return times


def table(results: dict[int, dict[str, list[float]]]) -> str:
    """p50 (p95) milliseconds per step, each size, and the largest against the smallest."""
    sizes = sorted(results)
    head = "| ms per batch of 50, p50 (p95) | " + " | ".join(f"{s:,}" for s in sizes)
    lines = [head + (f" | {sizes[-1]:,} : {sizes[0]:,} |" if len(sizes) > 1 else " |")]
    lines.append("|---|" + "---:|" * (len(sizes) + (len(sizes) > 1)))
    for step in sorted(results[sizes[0]], key=list(results[sizes[0]]).index):
        cells = []
        for size in sizes:
            values = sorted(results[size][step])
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            cells.append(f"{statistics.median(values) * 1e3:.1f} ({p95 * 1e3:.1f})")
        ratio = ""
        if len(sizes) > 1:
            ratio = f" | {statistics.median(results[sizes[-1]][step]) / statistics.median(results[sizes[0]][step]):.2f}"
        lines.append(f"| {step} | " + " | ".join(cells) + ratio + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bench.keyindex [--sizes 10000,1000000] [--batches 20] [--work DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.keyindex", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="articles per index, comma-separated")
    parser.add_argument("--batches", type=int, default=20, help="batches per way and size")
    parser.add_argument("--work", type=Path, help="keep the indexes here (index-SIZE.keys) and reuse them")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    pool = _fingerprints(POOL, seed=3)
    fresh = _fingerprints(2 * args.batches * BATCH, seed=4)
    with tempfile.TemporaryDirectory(prefix="wirehouse-keyindex-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = {}
        for size in sizes:
            path = work / f"index-{size}.keys"
            if not path.exists():
                seconds = build(path, size, pool)
                print(
                    f"built {path.name}: {size:,} articles in {seconds:.0f} s, {path.stat().st_size / 2**20:,.0f} MiB"
                )
            results[size] = measure(path, Batches(pool, fresh), args.batches)
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
