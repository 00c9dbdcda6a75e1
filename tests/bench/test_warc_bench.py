"""bench.warc: the archives it writes are read the same by every reader it compares."""

from __future__ import annotations

import pytest

from bench import warc

PAGES = [
    (
        f"https://lokal.example/artikel/{n}",
        f"<html><body><p>Meldung {n}: der Rat tagt.</p></body></html>".encode(),
    )
    for n in range(7)
]


@pytest.mark.parametrize("compress", [True, False])
def test_every_reader_finds_every_record_with_the_same_bytes(tmp_path, compress):
    path = tmp_path / ("a.warc.gz" if compress else "a.warc")
    assert warc.write_archive(path, PAGES, 3, compress=compress) == 21
    results = {name: reader(path) for name, reader in warc.READERS.items()}
    sizes = {sum(len(html) for _, html in PAGES) * 3}
    assert {records for records, _ in results.values()} == {21}
    assert {size for _, size in results.values()} == sizes
