"""langdetect 1.0.9's ``detect_langs`` (seed 0): the same answers to the bit, at a fraction of the cost."""

from __future__ import annotations

import json
import os
import random
import re
import threading
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils import unicode_block as langdetect_blocks
from langdetect.utils.ngram import NGram

__all__ = ["LangDetectException", "detect_langs", "languages"]

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]
Codes = npt.NDArray[np.uint64]
Words = npt.NDArray[np.uint32]

# The detector's parameters, read from langdetect itself so that they cannot drift from the pin.
# n_trial and max_text_length are set in Detector.__init__ (no class attribute to read): 7 and 10,000.
_N_TRIAL: Final = 7
_MAX_TEXT_LENGTH: Final = 10000
_ALPHA: Final[float] = float(Detector.ALPHA_DEFAULT)
_ALPHA_WIDTH: Final[float] = float(Detector.ALPHA_WIDTH)
_BASE_FREQ: Final[int] = int(Detector.BASE_FREQ)
_ITERATION_LIMIT: Final[int] = int(Detector.ITERATION_LIMIT)
_CONV_THRESHOLD: Final[float] = float(Detector.CONV_THRESHOLD)
_PROB_THRESHOLD: Final[float] = float(Detector.PROB_THRESHOLD)
_URL_RE: Final[re.Pattern[str]] = Detector.URL_RE
_MAIL_RE: Final[re.Pattern[str]] = Detector.MAIL_RE
# langdetect with DetectorFactory.seed = 0 is what the pipeline has always used: those are the answers.
_SEED: Final = 0
_SPACE: Final = 0x20
_SPACES: Final = re.compile(" {2,}")
# The combining marks NGram.normalize_vi folds into precomposed Vietnamese letters.
_VI_MARKS: Final[str] = NGram.DMARK_CLASS
# An n-gram (n <= 3) as one integer: each code point + 1 (so that 0 means "no character") in 21 bits.
_BITS: Final = 21
# The detector normalises after the first update and then after every fifth (i % 5 == 0).
_BLOCK: Final = 5
_MAX_BLOCKS: Final = _ITERATION_LIMIT // _BLOCK
# Blocks of five updates a trial prepares at once: 12 first (most trials converge within 60 updates),
# then twice as many each time. Preparing too many wastes a little work, never a random draw: the
# choices are read from a precomputed stream, not drawn (see _Choices).
_FIRST_BLOCKS: Final = 12
# N-grams known in this many languages or more (3,834 of 87,598, but nine in ten of those a news text
# uses) are kept as dense rows: 1.7 MB that spare scattering their entries for every choice of them.
_DENSE_MIN_LANGS: Final = 8
# A share that leaves every other language far below CONV_THRESHOLD (their shares add up to at most
# 1 - 1e-4, give or take the 1e-14 by which a rounded sum of 55 numbers can be off).
_LEAD_SHARE: Final = 1e-4


@dataclass(frozen=True)
class _Model:
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


class _Stream:
    """The 32-bit words ``random.Random(0)`` yields, in order, generated once per process.

    Every detection seeds its generator with 0, so every detection reads the same word stream; only
    where each trial starts in it differs, and which words its choices accept (see _Choices).
    """

    def __init__(self, size: int) -> None:
        self._rng = random.Random(_SEED)
        self._lock = threading.Lock()
        self.words: Words = np.empty(0, dtype=np.uint32)
        self._grow(size)

    def window(self, start: int, stop: int) -> Words:
        """Words ``start`` to ``stop`` (exclusive), generating more once a trial reads past the end.

        Args:
            start: First word.
            stop: One past the last word.

        Returns:
            The words, as a read-only view.
        """
        words = self.words
        if stop > words.size:
            with self._lock:
                if stop > self.words.size:
                    self._grow(max(stop, 2 * self.words.size))
                words = self.words
        return words[start:stop]

    def _grow(self, size: int) -> None:
        extra = size - self.words.size
        bits = self._rng.getrandbits
        # One getrandbits(32) per word is exactly one Mersenne Twister output, whatever the platform.
        more = np.fromiter((bits(32) for _ in range(extra)), dtype=np.uint32, count=extra)
        words = np.concatenate((self.words, more))
        words.flags.writeable = False
        self.words = words  # replaced whole, so readers without the lock see either array intact


_LOAD_LOCK = threading.Lock()
_MODEL: _Model | None = None
_STREAM: _Stream | None = None


def _loaded() -> tuple[_Model, _Stream]:
    global _MODEL, _STREAM
    model, stream = _MODEL, _STREAM
    if model is None or stream is None:
        with _LOAD_LOCK:
            if _MODEL is None or _STREAM is None:
                _MODEL = _read_model(PROFILES_DIRECTORY)
                _STREAM = _Stream(1 << 14)
            model, stream = _MODEL, _STREAM
    return model, stream


def languages() -> tuple[str, ...]:
    """The language codes the detector knows, in langdetect's internal order.

    Returns:
        langdetect's ``langlist``: profile names in the order ``os.listdir`` gave the profile files.
    """
    return _loaded()[0].langs


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


def _read_model(directory: str) -> _Model:
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
    return _Model(
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


def _features(text: str, model: _Model) -> Indices:
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


def _word_probs(model: _Model, rows: Indices) -> Floats:
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


class _Choices:
    """Every ``random.choice(ngrams)`` the seed-0 stream yields for one text, with the chosen rows.

    ``Random.choice(seq)`` takes one word per attempt, ``word >> (32 - len(seq).bit_length())``, and
    retries while that is ``>= len(seq)``. Which words are accepted depends on ``len(seq)`` only, so
    one scan serves all seven trials: a trial starting at stream word ``p`` takes the accepted words
    from ``p`` on, in order, and the trials take consecutive runs of them (but for the gauss() words
    in between). The chosen n-grams' word probabilities are gathered ahead, for all trials at once:
    a common n-gram's line from the model's dense table, the others' entries from its sparse rows.
    """

    def __init__(self, model: _Model, stream: _Stream, rows: Indices) -> None:
        self._stream = stream
        self._bound = rows.size
        self._shift = np.uint32(32 - rows.size.bit_length())
        self._scanned = 0
        self.at: Indices = np.empty(0, dtype=np.intp)  # stream word of each accepted choice
        self._features: Indices = np.empty(0, dtype=np.intp)  # the n-gram it chooses
        self._model = model
        self._rows = rows
        self.n_langs = len(model.langs)
        self._probs: Floats = np.empty((0, self.n_langs), dtype=np.float64)  # its word probabilities
        self._scan(1024)

    def _scan(self, stop: int) -> None:
        values = self._stream.window(self._scanned, stop) >> self._shift
        hits = np.flatnonzero(values < self._bound)
        self.at = np.concatenate((self.at, hits + self._scanned))
        self._features = np.concatenate((self._features, values[hits].astype(np.intp)))
        self._scanned = stop

    def first_from(self, position: int) -> int:
        """The first accepted choice at or after stream word ``position``.

        Args:
            position: A stream word.

        Returns:
            Its index among the accepted choices.
        """
        while self._scanned <= position:
            self._scan(2 * self._scanned)
        return int(np.searchsorted(self.at, position))

    def chosen(self, start: int, count: int) -> Indices:
        """The n-grams of ``count`` accepted choices from the ``start``-th on.

        Args:
            start: Index among the accepted choices.
            count: How many.

        Returns:
            Their indices in the text's list of n-grams, in order.
        """
        while self._features.size < start + count:
            self._scan(2 * self._scanned)
        return self._features[start : start + count]

    def probs(self, start: int, count: int) -> Floats:
        """Word probabilities of ``count`` accepted choices from the ``start``-th on.

        Args:
            start: Index among the accepted choices.
            count: How many.

        Returns:
            One line per choice, in order.
        """
        stop = start + count
        if self._probs.shape[0] < stop:
            done = self._probs.shape[0]
            # Gather ahead: the next trials start right after this one's choices, and seven trials on
            # a news text use 300 to 500 of them (one gather of 512 measured faster than 64 doubling).
            rows = self._rows[self.chosen(done, max(stop, 2 * done, 512) - done)]
            self._probs = np.concatenate((self._probs, _word_probs(self._model, rows)))
        return self._probs[start:stop]


def _trial(choices: _Choices, start: int, weight: float) -> tuple[Floats, int]:
    """One of the detector's trials, from the uniform start to convergence or the iteration limit.

    The updates multiply in the original order, one word row after another, and normalise after the
    first update and every fifth after it; only the bookkeeping (drawing, gathering rows) is batched.
    Detector._normalize_prob sums with Python's sum, which we keep for its rounding (numpy's sum is
    pairwise), and stops once the largest share exceeds CONV_THRESHOLD.

    Args:
        choices: The random choices.
        start: Index of the trial's first choice among them.
        weight: ``alpha / BASE_FREQ`` for this trial.

    Returns:
        The trial's normalised probabilities and how many choices it used.
    """
    n_langs = choices.n_langs
    prob = choices.probs(start, 1)[0] + weight  # weight + word_prob, as _update_lang_prob adds them
    prob *= 1.0 / n_langs  # the uniform start times the first update: the same product, commuted
    values: list[float] = prob.tolist()
    total = sum(values)
    top = max(values)
    if top / total > _CONV_THRESHOLD:  # dividing by a positive sum keeps the order: max / sum is the max
        prob /= total
        return prob, 1
    # Finding the maximum costs more than the rest of a normalisation. But while one language holds
    # more than _LEAD_SHARE of the (non-negative) total, no other can reach CONV_THRESHOLD, so its
    # share alone decides; only when it falls below do we look for a new leader. (A weight <= 0 would
    # take 10 sigmas of alpha; it would void "non-negative", so it keeps the plain maximum.)
    leader = values.index(top) if weight > 0.0 else -1
    # Locals: this loop runs some 60 to 100 times per text, and its numpy calls are on 55 numbers.
    multiply, divide, tolist = np.multiply.reduce, np.divide, prob.tolist
    share, threshold = _LEAD_SHARE, _CONV_THRESHOLD
    done, blocks = 0, _FIRST_BLOCKS  # blocks of five updates done, and how many to prepare next
    while True:
        blocks = min(blocks, _MAX_BLOCKS - done)
        # Line 0 of each layer is the normalised prob, the other five the next five updates' weights:
        # reducing over axis 0 multiplies line by line, prob first, which is ((prob * w1) * w2) ...
        # as in the original (never w1 * w2 first).
        stack = np.empty((blocks, _BLOCK + 1, n_langs), dtype=np.float64)
        probs = choices.probs(start + 1 + _BLOCK * done, _BLOCK * blocks)
        np.add(probs.reshape(blocks, _BLOCK, n_langs), weight, out=stack[:, 1:])
        divide(prob, total, out=stack[0, 0])
        for layer in range(blocks):
            multiply(stack[layer], 0, None, prob)
            values = tolist()
            total = sum(values)
            if leader >= 0 and values[leader] > share * total:
                converged = values[leader] / total > threshold
            else:
                top = max(values)
                converged = top / total > threshold
                if leader >= 0:
                    leader = values.index(top)
            if converged or done + layer + 1 >= _MAX_BLOCKS:
                prob /= total
                return prob, 1 + _BLOCK * (done + layer + 1)
            if layer + 1 < blocks:
                divide(prob, total, out=stack[layer + 1, 0])
        done += blocks
        blocks *= 2


def detect_langs(text: str) -> list[tuple[str, float]]:
    """Detect the language of a text exactly as ``langdetect.detect_langs`` does with seed 0.

    Args:
        text: Any text; langdetect's limit of 10,000 characters (after URL and mail removal) applies.

    Returns:
        ``(langdetect code, probability)`` pairs above 0.1, most probable first (ties in langdetect's
        language order); codes as langdetect spells them ("zh-cn").

    Raises:
        LangDetectException: langdetect's own, with its code and message, where the text has no
            n-gram its profiles know ("No features in text.").
    """
    model, stream = _loaded()
    rows = _features(text, model)
    if rows.size == 0:
        raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
    choices = _Choices(model, stream, rows)
    rng = random.Random(_SEED)  # for gauss() only: the choices come from the same stream, scanned
    rng_position = position = 0
    langprob = np.zeros(len(model.langs), dtype=np.float64)
    for trial in range(_N_TRIAL):
        if trial % 2 == 0:
            # gauss() takes two random() (four words) on every other call and keeps the second value
            # for the next: bring the generator to where the last trial's choices ended.
            if position > rng_position:
                rng.getrandbits(32 * (position - rng_position))
            alpha = _ALPHA + rng.gauss(0.0, 1.0) * _ALPHA_WIDTH
            position = rng_position = position + 4
        else:
            alpha = _ALPHA + rng.gauss(0.0, 1.0) * _ALPHA_WIDTH
        start = choices.first_from(position)
        prob, used = _trial(choices, start, alpha / _BASE_FREQ)
        position = int(choices.at[start + used - 1]) + 1
        langprob += prob / _N_TRIAL
    found = [(lang, p) for lang, p in zip(model.langs, langprob.tolist(), strict=True) if p > _PROB_THRESHOLD]
    found.sort(key=lambda item: item[1], reverse=True)  # stable, as Language.sort(reverse=True) is
    return found
