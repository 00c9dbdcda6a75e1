"""langdetect 1.0.9's ``detect_langs`` (seed 0): the same answers to the bit, at a fraction of the cost."""

from __future__ import annotations

import random
import threading
from typing import Final

import numpy as np
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import ErrorCode, LangDetectException

from tasks.enrich.langmodel import Floats, Indices, Model, Words, features, read_model, word_probs

__all__ = ["LangDetectException", "detect_langs", "languages"]

# The detector's parameters, read from langdetect itself so that they cannot drift from the pin.
# n_trial is set in Detector.__init__ (no class attribute to read): 7.
_N_TRIAL: Final = 7
_ALPHA: Final[float] = float(Detector.ALPHA_DEFAULT)
_ALPHA_WIDTH: Final[float] = float(Detector.ALPHA_WIDTH)
_BASE_FREQ: Final[int] = int(Detector.BASE_FREQ)
_ITERATION_LIMIT: Final[int] = int(Detector.ITERATION_LIMIT)
_CONV_THRESHOLD: Final[float] = float(Detector.CONV_THRESHOLD)
_PROB_THRESHOLD: Final[float] = float(Detector.PROB_THRESHOLD)
# langdetect with DetectorFactory.seed = 0 is what the pipeline has always used: those are the answers.
_SEED: Final = 0
# The detector normalises after the first update and then after every fifth (i % 5 == 0).
_BLOCK: Final = 5
_MAX_BLOCKS: Final = _ITERATION_LIMIT // _BLOCK
# Blocks of five updates a trial prepares at once: 12 first (most trials converge within 60 updates),
# then twice as many each time. Preparing too many wastes a little work, never a random draw: the
# choices are read from a precomputed stream, not drawn (see _Choices).
_FIRST_BLOCKS: Final = 12
# A share that leaves every other language far below CONV_THRESHOLD (their shares add up to at most
# 1 - 1e-4, give or take the 1e-14 by which a rounded sum of 55 numbers can be off).
_LEAD_SHARE: Final = 1e-4


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
_MODEL: Model | None = None
_STREAM: _Stream | None = None


def _loaded() -> tuple[Model, _Stream]:
    global _MODEL, _STREAM
    model, stream = _MODEL, _STREAM
    if model is None or stream is None:
        with _LOAD_LOCK:
            if _MODEL is None or _STREAM is None:
                _MODEL = read_model(PROFILES_DIRECTORY)
                _STREAM = _Stream(1 << 14)
            model, stream = _MODEL, _STREAM
    return model, stream


def languages() -> tuple[str, ...]:
    """The language codes the detector knows, in langdetect's internal order.

    Returns:
        langdetect's ``langlist``: profile names in the order ``os.listdir`` gave the profile files.
    """
    return _loaded()[0].langs


class _Choices:
    """Every ``random.choice(ngrams)`` the seed-0 stream yields for one text, with the chosen rows.

    ``Random.choice(seq)`` takes one word per attempt, ``word >> (32 - len(seq).bit_length())``, and
    retries while that is ``>= len(seq)``. Which words are accepted depends on ``len(seq)`` only, so
    one scan serves all seven trials: a trial starting at stream word ``p`` takes the accepted words
    from ``p`` on, in order, and the trials take consecutive runs of them (but for the gauss() words
    in between). The chosen n-grams' word probabilities are gathered ahead, for all trials at once:
    a common n-gram's line from the model's dense table, the others' entries from its sparse rows.
    """

    def __init__(self, model: Model, stream: _Stream, rows: Indices) -> None:
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
            self._probs = np.concatenate((self._probs, word_probs(self._model, rows)))
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
    rows = features(text, model)
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
