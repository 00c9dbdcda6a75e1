from collections import Counter

import pytest

from bench.dedup import (
    DEFAULT_CORPUS,
    generate,
    load_sources,
    main,
    measure,
    pair_scores,
)

needs_corpus = pytest.mark.skipif(
    not (DEFAULT_CORPUS / "truth.jsonl").is_file(), reason="../shared/corpora absent"
)


def test_pair_scores_count_pairs_of_articles():
    # true stories {a,b,c} {d}; predicted {a,b} {c,d}: 1 of 3 true pairs found, 1 of 2 predicted pairs right
    assert pair_scores([1, 1, 1, 2], ["a", "a", "c", "c"]) == (0.5, 1 / 3)
    assert pair_scores([1, 2], ["a", "b"]) == (1.0, 1.0)  # no pairs at all: nothing wrong


def test_generated_data_set_is_deterministic_and_mixes_copies_and_rival_reports():
    sources = load_sources(None)  # the fixture texts
    first, second = generate(200, sources, seed=3), generate(200, sources, seed=3)
    assert first == second
    assert len(first) == 200
    kinds = Counter(a.kind for a in first)
    assert kinds["original-copy"] > 50 and kinds["rival"] > 10


def test_fixture_texts_reach_the_quality_bar():
    row = measure(generate(200, load_sources(None), seed=1))
    assert row.precision >= 0.98 and row.recall >= 0.98
    assert row.incremental_same


@pytest.mark.corpus
@needs_corpus
def test_real_bodies_reach_the_quality_bar():
    data = generate(200, load_sources(DEFAULT_CORPUS), seed=1)
    row = measure(data)
    assert row.precision >= 0.98 and row.recall >= 0.98
    assert row.incremental_same  # loading batch by batch gives the same stories as one full grouping
    assert row.roots >= 0.98  # story_id is the earliest URL of the true story


def test_main_prints_the_table(capsys, tmp_path):
    assert main(["--corpus", str(tmp_path), "--articles", "120", "--timing-sizes", ""]) == 0
    out = capsys.readouterr().out
    assert "fixture texts" in out and "precision" in out
