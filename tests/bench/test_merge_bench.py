"""bench.merge runs end to end on a few articles and reports every row it promises."""

from __future__ import annotations

from bench import merge
from tests.support.pgcluster import available


def test_the_merge_bench_stores_and_merges_every_article(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("WIREHOUSE_DATA_PATH", str(tmp_path / "unused") + "/")
    assert merge.main(["--articles", "60", "--batch-size", "20", "--corpus", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "| embedded (SQLite) | store batch by batch | 60 |" in out
    if available():
        assert "| shared (PostgreSQL) | stage (each writer, no lock) | 60 |" in out
        assert "| shared (PostgreSQL) | merge (one merger at a time) | 60 |" in out


def test_generated_articles_have_distinct_urls_and_fingerprints():
    articles = merge.make_articles(80, None)
    assert len({a.url for a in articles}) == len(articles) == 80
    assert all(a.fingerprint for a in articles)
