"""bench-scale's table: p50 / p95 per lake, the ratio to the smallest, blanks for steps a lake lacks."""

from __future__ import annotations

from bench.scale import table


def test_the_table_gives_each_lake_and_its_ratio_to_the_smallest():
    results = {
        100: {"articles": 100, "times": {"store wall": [1.0, 1.0, 3.0], "sql: story candidates": [0.5]}},
        1000: {"articles": 1000, "times": {"store wall": [2.0, 2.0, 2.0]}},
    }
    lines = table(results).splitlines()
    assert lines[0] == "| s per call (p50 / p95) | 100 articles | 1,000 articles | 1,000 : smallest |"
    assert lines[1] == "|---|---|---|---|"
    assert lines[2] == "| store wall | 1.0000 / 3.0000 | 2.0000 / 2.0000 | 2.00 |"
    assert lines[3] == "| sql: story candidates | 0.5000 / 0.5000 |  |  |"


def test_one_lake_has_no_ratio_column():
    lines = table({100: {"articles": 100, "times": {"known_urls": [0.25]}}}).splitlines()
    assert lines[:3] == [
        "| s per call (p50 / p95) | 100 articles |",
        "|---|---|",
        "| known_urls | 0.2500 / 0.2500 |",
    ]
