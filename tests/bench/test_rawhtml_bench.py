"""bench.rawhtml: every codec it compares gives the pages back, and its table has a row for each."""

from __future__ import annotations

import gzip
import json
import sys

from bench import rawhtml


def test_the_table_has_every_codec_on_a_small_corpus(tmp_path, monkeypatch, capsys):
    lines = []
    (tmp_path / "pages").mkdir()
    for n in range(40):
        host = ("lokal.example", "www.stadt.example")[n % 2]
        body = "".join(
            f"<p>Meldung {n}.{k}: der Rat tagt am {k}. Mai im Saal {n * k}.</p>" for k in range(60)
        )
        html = (
            f"<html><head><title>{host} {n}</title></head><body><nav>Start Politik</nav>{body}</body></html>"
        )
        (tmp_path / "pages" / f"{n}.html.gz").write_bytes(gzip.compress(html.encode()))
        lines.append(json.dumps({"file": f"pages/{n}.html.gz", "url": f"https://{host}/artikel/{n}"}))
    (tmp_path / "truth.jsonl").write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["rawhtml", "--corpus", str(tmp_path), "--repeat", "1"])
    rawhtml.main()  # asserts that every codec gives every page back byte for byte
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("40 corpus pages")
    codecs = [line.split(" | ")[0] for line in out[2:]]
    assert codecs == [
        "none",
        "none, Parquet zstd",
        "zlib-3",
        "zstd-3",
        "zstd-9",
        "zstd-19",
        "zstd-3 shared dict",
        "zstd-3 (host subset)",
        "zstd-3 host dict",
    ]
    zlib_row, zstd_row = (line.split(" | ") for line in out[4:6])
    assert float(zstd_row[6]) > 0 and zlib_row[7] == "SNAPPY"  # what DuckLake writes by default
