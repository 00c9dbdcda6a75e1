"""langfast's tables against langdetect's own: NGram.normalize and the profiles' word probabilities."""

import random

import numpy as np
from langdetect.detector_factory import init_factory
from langdetect.utils.ngram import NGram

from tasks.enrich import langfast
from tasks.enrich.langmodel import word_probs


def test_character_tables_match_ngram_normalize():
    model, _ = langfast._loaded()
    chars = [chr(point) for point in range(0x10000)]
    normal = [ord(NGram.normalize(char)) for char in chars]
    assert model.normal.tolist() == normal
    assert model.upper.tolist() == [chr(point).isupper() for point in normal]


def test_profile_rows_match_langdetects_word_probabilities():
    init_factory()
    from langdetect.detector_factory import _factory

    model, _ = langfast._loaded()
    words = random.Random(1).sample(sorted(w for w in _factory.word_lang_prob_map if 1 <= len(w) <= 3), 5000)
    codes = []
    for word in words:
        code = 0
        for char in word:
            code = (code << 21) | (ord(char) + 1)
        codes.append(code)
    wanted = np.array(codes, dtype=np.uint64)
    at = np.searchsorted(model.keys, wanted)
    assert (model.keys[at] == wanted).all()
    rows = model.key_rows[at].astype(np.intp)
    n_dense = model.dense.shape[0] - 1
    assert (rows < n_dense).any() and (rows >= n_dense).any()  # both kinds of storage
    got = word_probs(model, rows).tolist()
    assert got == [_factory.word_lang_prob_map[word] for word in words]
