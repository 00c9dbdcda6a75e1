import math

import pytest
import yake

from tasks.enrich.keywords import stopwords
from tasks.enrich.yakerank import _phrase_scores, _read, _similarity, _tag, _Terms, key_phrases
from tests.tasks.enrich.test_keywords import ENGLISH, GERMAN


def test_tags():
    assert [_tag(word, 1) for word in ("12.000", "B52", "„", "HHLA", "Hafen", "hafen", "McDonald")] == [
        "d",
        "u",
        "u",
        "a",
        "n",
        "p",
        "p",
    ]
    assert _tag("Hafen", 0) == "p"  # a capital at a sentence's start says nothing


def test_single_word_features_by_hand():
    terms = _Terms(frozenset())
    candidates = _read([["Alpha", "beta", "."], ["Alpha", "gamma", "."]], terms, 3)
    scores = terms.scores(2)
    alpha, beta = terms.index["alpha"], terms.index["beta"]
    assert terms.tf[alpha] == 2 and terms.seen[alpha] == {0, 1} and terms.edges[alpha, beta] == 1
    # tf: alpha 2, beta 1, gamma 1 -> mean 4/3, std sqrt(2)/3
    spread = 4 / 3 + math.sqrt(2) / 3
    # alpha: two different right neighbours in two co-occurrences, none left; in both sentences,
    # median sentence 0.5; never capitalised inside a sentence.
    relatedness = (0.5 + 0) + (0.5 + (2 / 2) * (2 / 2))
    position = math.log(math.log(3 + 0.5))
    assert scores[alpha] == pytest.approx(
        position * relatedness / (0 + (2 / spread) / relatedness + 1 / relatedness)
    )
    # beta: one left neighbour seen once, tf 1 of max 2; in sentence 0 only.
    relatedness = (0.5 + 1 * (1 / 2)) + 0.5
    position = math.log(math.log(3 + 0))
    expected = position * relatedness / ((1 / spread) / relatedness + (1 / 2) / relatedness)
    assert scores[beta] == pytest.approx(expected)
    # A phrase: prod(H) / ((sum(H) + 1) * tf); punctuation ends a block of words.
    assert candidates.order == ["alpha", "beta", "alpha beta", "gamma", "alpha gamma"]
    phrases = _phrase_scores(candidates, terms, scores)
    assert phrases["alpha beta"] == pytest.approx(
        scores[alpha] * scores[beta] / (scores[alpha] + scores[beta] + 1)
    )
    assert phrases["alpha"] == pytest.approx(scores[alpha] / ((scores[alpha] + 1) * 2))


def test_similarity_as_yake_dedups():
    assert _similarity("lego lego", "lego") == 1.0  # words written, not distinct words
    assert _similarity("hamburger hafen", "hamburger hafens") == 0.0  # YAKE's pre-filter: other last letter
    assert _similarity("hafen", "hafen") == 1.0


@pytest.mark.parametrize(("text", "language"), [(GERMAN, "de"), (ENGLISH, "en")])
def test_ranks_as_yake_keyword_extractor_does(text, language):
    flat = " ".join(text.split())
    for n in (1, 3):
        words = stopwords(language)
        reference = yake.KeywordExtractor(lan=language, n=n, top=24, stopwords=set(words)).extract_keywords(
            flat
        )
        assert key_phrases(flat, words, n, 24) == [phrase for phrase, _score in reference]


def test_yake_is_deterministic():
    flat = " ".join(GERMAN.split())
    assert len({tuple(key_phrases(flat, stopwords("de"), 3, 24)) for _ in range(3)}) == 1
