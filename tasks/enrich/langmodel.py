"""langdetect 1.0.9's profiles as numpy tables, and a text's n-grams as rows of them (for langfast)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from langdetect.detector import Detector
from langdetect.utils import unicode_block as langdetect_blocks
from langdetect.utils.ngram import NGram

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]
Codes = npt.NDArray[np.uint64]
Words = npt.NDArray[np.uint32]

# Detector.__init__ sets max_text_length (no class attribute to read): 10,000.
_MAX_TEXT_LENGTH: Final = 10000
_URL_RE: Final[re.Pattern[str]] = Detector.URL_RE
_MAIL_RE: Final[re.Pattern[str]] = Detector.MAIL_RE
_SPACE: Final = 0x20
_SPACES: Final = re.compile(" {2,}")
# The combining marks NGram.normalize_vi folds into precomposed Vietnamese letters.
_VI_MARKS: Final[str] = NGram.DMARK_CLASS
# An n-gram (n <= 3) as one integer: each code point + 1 (so that 0 means "no character") in 21 bits.
_BITS: Final = 21
# N-grams known in this many languages or more (3,834 of 87,598, but nine in ten of those a news text
# uses) are kept as dense rows: 1.7 MB that spare scattering their entries for every choice of them.
_DENSE_MIN_LANGS: Final = 8


@dataclass(frozen=True)
class Model:
    """langdetect's profiles as sparse rows, plus the per-character tables of its n-gram extractor."""

    langs: tuple[str, ...]  # in langdetect's order (os.listdir's), which decides ties and summing order
    keys: Codes  # the n-gram codes, sorted
    key_rows: npt.NDArray[np.int32]  # the row of each
    # Rows 0 .. n_dense - 1 are the n-grams known in many languages, in ``dense`` (whose extra last
    # line is all zero); the rows after them are sparse, in CSR: row n_dense + r has the entries
    # cols/vals[indptr[r]:indptr[r + 1]].
    dense: Floats
    indptr: Indices
    cols: npt.NDArray[np.uint8]
    vals: Floats
    normal: Words  # NGram.normalize over the Basic Multilingual Plane (it changes nothing beyond it)
    upper: npt.NDArray[np.bool_]  # str.isupper of the normalised character, same domain


def _gram_codes(points: npt.NDArray[np.uint64], lengths: Indices) -> Codes:
    """Codes of consecutive n-grams (1 <= n <= 3) given as their concatenated code points."""
    ends = np.cumsum(lengths) - 1
    plus = points + np.uint64(1)
    codes = plus[ends].copy()
    two = lengths >= 2
    codes[two] |= plus[ends[two] - 1] << np.uint64(_BITS)
    three = lengths >= 3
    codes[three] |= plus[ends[three] - 2] << np.uint64(2 * _BITS)
    return codes


def read_model(directory: str) -> Model:
    """Read langdetect's profile files the way ``DetectorFactory.load_profile`` does."""
    langs: list[str] = []
    codes: list[Codes] = []
    cols: list[npt.NDArray[np.uint8]] = []
    vals: list[Floats] = []
    # Same files, same order, same skips as load_profile: the column order is langdetect's langlist.
    for filename in os.listdir(directory):
        path = os.path.join(directory, filename)
        if filename.startswith(".") or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            profile = json.load(handle)
        words = [word for word in profile["freq"] if 1 <= len(word) <= 3]  # the only ones it scores
        lengths = np.fromiter(map(len, words), dtype=np.intp, count=len(words))
        # 1.0 * freq / n_words[len - 1], as add_profile computes it: int -> double, then one division.
        freq = np.array([profile["freq"][word] for word in words], dtype=np.float64)
        n_words = np.array(profile["n_words"], dtype=np.float64)
        text = "".join(words).encode("utf-32-le", "surrogatepass")
        points = np.frombuffer(text, dtype="<u4").astype(np.uint64)
        codes.append(_gram_codes(points, lengths))
        cols.append(np.full(len(words), len(langs), dtype=np.uint8))
        vals.append(freq / n_words[lengths - 1])
        langs.append(str(profile["name"]))
    all_codes = np.concatenate(codes)
    all_cols = np.concatenate(cols)
    all_vals = np.concatenate(vals)
    keys, row_of, counts = np.unique(all_codes, return_inverse=True, return_counts=True)
    # Number the rows dense ones first, so that a row is its own line in the dense table.
    is_dense = counts >= _DENSE_MIN_LANGS
    n_dense = int(np.count_nonzero(is_dense))
    renumber = np.empty(keys.size, dtype=np.intp)
    renumber[is_dense] = np.arange(n_dense)
    renumber[~is_dense] = np.arange(n_dense, keys.size)
    row_of = renumber[row_of]
    dense = np.zeros((n_dense + 1, len(langs)), dtype=np.float64)
    in_dense = row_of < n_dense
    dense[row_of[in_dense], all_cols[in_dense]] = all_vals[in_dense]
    order = np.argsort(row_of[~in_dense], kind="stable")
    sparse_counts = np.bincount(row_of[~in_dense] - n_dense, minlength=keys.size - n_dense)
    indptr = np.zeros(keys.size - n_dense + 1, dtype=np.intp)
    np.cumsum(sparse_counts, out=indptr[1:])
    normal, upper = _character_tables()
    return Model(
        langs=tuple(langs),
        keys=keys,
        key_rows=renumber.astype(np.int32),
        dense=dense,
        indptr=indptr,
        cols=all_cols[~in_dense][order],
        vals=all_vals[~in_dense][order],
        normal=normal,
        upper=upper,
    )


def _character_tables() -> tuple[Words, npt.NDArray[np.bool_]]:
    """NGram.normalize and str.isupper (of the normalised character) for every BMP code point.

    The rules are NGram.normalize's, block by block, on langdetect's own block table. Every block it
    changes lies in the BMP; beyond it a character stays as it is.
    """
    blocks = {name: (start, end) for name, start, end in langdetect_blocks._unicode_blocks}
    normal = np.arange(0x10000, dtype=np.uint32)

    def span(block: int) -> slice:
        start, end = blocks[block]
        return slice(start, end + 1)

    def inside(char: str, block: int) -> bool:
        start, end = blocks[block]
        return bool(start <= ord(char) <= end)

    basic = np.arange(0x80, dtype=np.uint32)
    letter = ((basic >= 0x41) & (basic <= 0x5A)) | ((basic >= 0x61) & (basic <= 0x7A))
    normal[:0x80] = np.where(letter, basic, _SPACE)
    for char in NGram.LATIN1_EXCLUDED:
        if inside(char, langdetect_blocks.UNICODE_LATIN_1_SUPPLEMENT):
            normal[ord(char)] = _SPACE
    # Romanian comma-below letters become their cedilla forms.
    for comma, cedilla in (("\u0219", "\u015f"), ("\u021b", "\u0163")):
        if inside(comma, langdetect_blocks.UNICODE_LATIN_EXTENDED_B):
            normal[ord(comma)] = ord(cedilla)
    normal[span(langdetect_blocks.UNICODE_GENERAL_PUNCTUATION)] = _SPACE
    if inside("\u06cc", langdetect_blocks.UNICODE_ARABIC):
        normal[0x06CC] = 0x064A  # Farsi yeh -> Arabic yeh
    additional = span(langdetect_blocks.UNICODE_LATIN_EXTENDED_ADDITIONAL)
    normal[additional] = np.where(normal[additional] >= 0x1EA0, 0x1EC3, normal[additional])
    normal[span(langdetect_blocks.UNICODE_HIRAGANA)] = 0x3042
    normal[span(langdetect_blocks.UNICODE_KATAKANA)] = 0x30A2
    normal[span(langdetect_blocks.UNICODE_BOPOMOFO)] = 0x3105
    normal[span(langdetect_blocks.UNICODE_BOPOMOFO_EXTENDED)] = 0x3105
    for char, representative in NGram.CJK_MAP.items():
        if inside(char, langdetect_blocks.UNICODE_CJK_UNIFIED_IDEOGRAPHS):
            normal[ord(char)] = ord(representative)
    normal[span(langdetect_blocks.UNICODE_HANGUL_SYLLABLES)] = 0xAC00
    is_upper = np.frombuffer(bytes(chr(point).isupper() for point in range(0x10000)), dtype=np.bool_)
    return normal, is_upper[normal]


def _clean_points(text: str) -> Words:
    """Detector.append and cleaning_text: the code points the n-grams are taken from."""
    # The same substitutions as Detector.append, each skipped where it cannot match: scanning for a
    # mail address costs more than all the rest of this function.
    if "http" in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _MAIL_RE.sub(" ", text)
    if any(mark in text for mark in _VI_MARKS):
        text = NGram.normalize_vi(text)
    text = text[:_MAX_TEXT_LENGTH]
    if "  " in text:
        text = _SPACES.sub(" ", text)
    points: Words = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    latin = (points >= 0x41) & (points <= 0x7A)  # 'A' <= ch <= 'z', punctuation between included
    # cleaning_text also means to spare Latin Extended Additional (Vietnamese) from the non-Latin
    # count, but compares a block number with a block name, so every ch >= U+0300 counts.
    if 2 * int(np.count_nonzero(latin)) < int(np.count_nonzero(points >= 0x300)):
        points = points[~latin]
    return points


def features(text: str, model: Model) -> Indices:
    """The profile rows of the text's n-grams, in the order langdetect's _extract_ngrams lists them.

    NGram keeps the last three characters since the last space (which it keeps as the first one), so
    after each character the n-grams ending there are: the character itself unless it is a space, the
    pair ending there, and the triple if the last space is at least two characters back. A character
    that is upper case after an upper-case one (a capital word) yields none. Runs of spaces count as
    one, and the text starts after a virtual space.
    """
    points = _clean_points(text)
    astral = points > 0xFFFF
    if astral.any():
        bmp = np.where(astral, 0, points)
        chars = np.where(astral, points, model.normal[bmp])
        upper = model.upper[bmp]
        upper[astral] = [chr(point).isupper() for point in points[astral].tolist()]
    else:
        chars = model.normal[points]
        upper = model.upper[points]
    chars = np.concatenate((np.array([_SPACE], dtype=np.uint32), chars))
    upper = np.concatenate((np.zeros(1, dtype=np.bool_), upper))
    space = chars == _SPACE
    keep = np.ones(chars.size, dtype=np.bool_)
    keep[1:] = ~(space[1:] & space[:-1])
    chars, upper, space = chars[keep], upper[keep], space[keep]
    size = chars.size
    if size < 2:
        return np.empty(0, dtype=np.intp)
    position = np.arange(size)
    last_space = np.maximum.accumulate(np.where(space, position, 0))
    since_space = position[1:] - last_space[:-1]
    code = chars.astype(np.uint64) + np.uint64(1)
    grams = np.zeros((size - 1, 3), dtype=np.uint64)
    grams[:, 0] = code[1:]
    grams[:, 1] = (code[:-1] << np.uint64(_BITS)) | code[1:]
    grams[1:, 2] = (code[:-2] << np.uint64(2 * _BITS)) | (code[1:-1] << np.uint64(_BITS)) | code[2:]
    wanted = np.empty((size - 1, 3), dtype=np.bool_)
    wanted[:, 0] = ~space[1:]
    wanted[:, 1] = True
    wanted[:, 2] = since_space >= 2
    wanted &= ~(upper[1:] & upper[:-1])[:, None]
    candidates = grams[wanted]  # row-major: by position, then n = 1, 2, 3, as langdetect appends them
    at = np.searchsorted(model.keys, candidates)
    at[at == model.keys.size] = 0
    found: Indices = model.key_rows[at[model.keys[at] == candidates]].astype(np.intp)
    return found


def word_probs(model: Model, rows: Indices) -> Floats:
    """The word probabilities langdetect gives the profile rows, one line per row."""
    n_dense = model.dense.shape[0] - 1
    probs: Floats = model.dense[np.minimum(rows, n_dense)]  # a sparse row gets the zero line ...
    sparse = np.flatnonzero(rows >= n_dense)
    if sparse.size:  # ... and its entries
        starts = model.indptr[rows[sparse] - n_dense]
        counts = model.indptr[rows[sparse] - n_dense + 1] - starts
        entries = np.arange(int(counts.sum())) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
        probs[np.repeat(sparse, counts), model.cols[entries]] = model.vals[entries]
    return probs
