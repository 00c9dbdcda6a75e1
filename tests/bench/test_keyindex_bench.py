"""bench-keyindex: the index it builds is one the store can use, and its table gives each way's steps."""

from __future__ import annotations

from datetime import timedelta

from bench.keyindex import END, POOL, Batches, _fingerprints, build, measure, table
from tasks import wirecopy
from warehouse import keys


def test_a_built_index_finds_the_copies_of_its_newest_articles_and_takes_new_batches(tmp_path):
    pool = _fingerprints(20, seed=3)
    fresh = _fingerprints(40, seed=4)
    path = tmp_path / "index.keys"
    build(path, 500, pool)
    with keys.session(path) as index:
        found = index.candidates(wirecopy.band_keys(pool[5]), END - timedelta(days=7), END)
    assert [a.fingerprint for a in found] == [pool[5]]  # the pooled article, the newest ones' own keys
    times = measure(path, Batches(pool, fresh), 2)
    assert {len(v) for v in times.values()} == {2}
    with keys.session(path) as index:
        assert len(index.stored([f"https://www.new-{n % 97}.example/story/{n}.html" for n in range(4)])) == 4
    lines = table({500: times, 1000: times}).splitlines()
    assert lines[0] == "| ms per batch of 50, p50 (p95) | 500 | 1,000 | 1,000 : 500 |"
    assert lines[2].startswith("| a connection per call: stored | ") and lines[2].endswith(" | 1.00 |")
    assert POOL >= 20
