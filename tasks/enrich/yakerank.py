"""YAKE 0.7.3's key-phrase ranking re-implemented on plain dicts and tuples.

yake.KeywordExtractor builds a networkx graph, an object per word and per candidate n-gram and calls
numpy per word; the same algorithm here costs a tenth, and ranks the same phrases in the same order.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from itertools import compress
from statistics import median
from typing import NamedTuple

from tasks.enrich.segmenter import split_sentences, tokenize

_DEDUP_LIMIT = 0.9  # YAKE's default dedup_lim: candidates more similar to a better one are dropped
_PUNCTUATION = frozenset(string.punctuation)  # YAKE's "exclude": a token of these only ends a block
_STRIP_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _no_capital_after_first(word: str) -> bool:
    rest = word[1:]
    return rest.islower() or not any(char.isupper() for char in rest)


def _tag(word: str, position: int) -> str:
    """Classify a token as YAKE does.

    Args:
        word: The token.
        position: Its index in the sentence (punctuation counted).

    Returns:
        "d" number, "u" unusual (digits and letters, no letters, punctuation inside), "a" acronym,
        "n" capitalised word inside a sentence, "p" anything else.
    """
    plain = word.replace(",", "")
    if plain.isdigit() or plain.replace(".", "", 1).isdigit():
        return "d"
    digits = sum(1 for char in word if char.isdigit())
    letters = sum(1 for char in word if char.isalpha())
    if (
        (digits and letters)
        or (not digits and not letters)
        or sum(1 for char in word if char in _PUNCTUATION) > 1
    ):
        return "u"
    if word.isupper():
        return "a"
    if len(word) > 1 and word[0].isupper() and position > 0 and _no_capital_after_first(word):
        return "n"
    return "p"


def _pairwise_sum(values: list[float]) -> float:
    # numpy's summation order (8 accumulators, halves beyond 128 values): YAKE's np.std rounds so, and
    # a last-bit difference would reorder phrases that tie.
    count = len(values)
    if count < 8:
        total = 0.0
        for value in values:
            total += value
        return total
    if count > 128:
        half = count // 2
        half -= half % 8
        return _pairwise_sum(values[:half]) + _pairwise_sum(values[half:])
    lanes = values[:8]
    end = count - count % 8
    for start in range(8, end, 8):
        for lane in range(8):
            lanes[lane] += values[start + lane]
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    for value in values[end:]:
        total += value
    return total


class _Terms:
    """YAKE's single words: occurrences, casing, sentences and the co-occurrence graph, as lists."""

    def __init__(self, stop: frozenset[str]) -> None:
        self.stop = stop
        self.index: dict[str, int] = {}  # the lower-cased form -> term number
        self.keys: dict[str, int] = {}  # YAKE's key (lower-cased, a final "s" dropped) -> term number
        self.stopword: list[bool] = []
        self.tf: list[int] = []
        self.tf_case: list[list[int]] = []  # [acronym count, proper-noun count]
        self.seen: list[set[int]] = []  # the numbers of the sentences it occurs in
        self.edges: Counter[tuple[int, int]] = Counter()  # left term, right term -> times adjacent

    def term(self, lower: str) -> int:
        number = self.index.get(lower)
        if number is not None:
            return number
        key = lower[:-1] if lower.endswith("s") and len(lower) > 3 else lower
        number = self.keys.get(key)
        if number is None:
            # The first spelling decides, as in YAKE: "Das" makes "das" a stopword, and so are words
            # shorter than three letters once punctuation is dropped.
            number = self.keys[key] = len(self.tf)
            self.stopword.append(
                lower in self.stop or key in self.stop or len(key.translate(_STRIP_PUNCTUATION)) < 3
            )
            self.tf.append(0)
            self.tf_case.append([0, 0])
            self.seen.append(set())
        self.index[lower] = number
        return number

    def scores(self, number_of_sentences: int) -> dict[int, float]:
        """Score every word that is no stopword by YAKE's formula (lower is better).

        Args:
            number_of_sentences: Sentences in the text.

        Returns:
            Term number -> H = WPos * WRel / (WCase + WFreq / WRel + WSpread / WRel).
        """
        content = [number for number, stop in enumerate(self.stopword) if not stop]
        if not content:
            return {}
        tfs = [self.tf[number] for number in content]
        mean = sum(tfs) / len(tfs)
        deviations = [(tf - mean) * (tf - mean) for tf in tfs]
        spread = mean + math.sqrt(_pairwise_sum(deviations) / len(tfs))  # numpy's std, to the last bit
        max_tf = max(self.tf)  # over all words, stopwords and numbers too, as YAKE does
        degree = [[0, 0, 0, 0] for _ in self.tf]  # edges in, their weight, edges out, their weight
        for (left, right), weight in self.edges.items():
            degree[right][0] += 1
            degree[right][1] += weight
            degree[left][2] += 1
            degree[left][3] += weight
        scores: dict[int, float] = {}
        for number in content:
            tf = self.tf[number]
            in_edges, in_weight, out_edges, out_weight = degree[number]
            # Relatedness: many different neighbours, each seen rarely, mark a function word.
            left_spread = in_edges / in_weight if in_weight else 0.0
            right_spread = out_edges / out_weight if out_weight else 0.0
            relatedness = (0.5 + left_spread * (tf / max_tf)) + (0.5 + right_spread * (tf / max_tf))
            frequency = tf / spread
            different_sentences = len(self.seen[number]) / number_of_sentences
            casing = max(self.tf_case[number]) / (1.0 + math.log(tf))
            # YAKE takes the median of the sentence numbers (not of word positions) and logs it twice.
            position = math.log(math.log(3.0 + median(self.seen[number])))
            scores[number] = (position * relatedness) / (
                casing + (frequency / relatedness) + (different_sentences / relatedness)
            )
        return scores


class _Candidates(NamedTuple):
    """YAKE's candidate n-grams (only those that neither start nor end with a stopword)."""

    order: list[str]  # lower-cased phrases, by first occurrence (YAKE's order, which breaks ties)
    tf: Counter[str]  # occurrences
    first: dict[str, tuple[_Entry, ...]]  # the words of the first occurrence
    clean: set[str]  # phrases of which an occurrence has neither number nor symbol ("u"/"d" tags)


# A word as read: as written, lower-cased, its term, no number or symbol, a stopword.
_Entry = tuple[str, str, int, bool, bool]


def _read(sentences: list[list[str]], terms: _Terms, n: int) -> _Candidates:
    """Count words, co-occurrences and candidate n-grams in one pass, as YAKE's DataCore does.

    Args:
        sentences: The tokens of each sentence.
        terms: Where to count the words.
        n: Longest candidate, in words.

    Returns:
        The candidates.
    """
    # A punctuation token ends a block of words; words co-occur and form n-grams only within one.
    # Occurrences are listed here and counted by Counter/dict in C afterwards.
    keys: list[str] = []
    grams: list[tuple[_Entry, ...]] = []
    cleans: list[bool] = []
    pairs: list[tuple[int, int]] = []
    index, stopword, tf, tf_case, seen = terms.index, terms.stopword, terms.tf, terms.tf_case, terms.seen
    for number, tokens in enumerate(sentences):
        previous: _Entry | None = None  # the last two words of the block
        before: _Entry | None = None
        for position, word in enumerate(tokens):
            if word[0] in _PUNCTUATION and all(char in _PUNCTUATION for char in word):
                previous = before = None
                continue
            if word.isalpha():  # the common case of _tag, without counting characters
                if word.isupper():
                    tag = "a"
                elif position and len(word) > 1 and word[0].isupper() and _no_capital_after_first(word):
                    tag = "n"
                else:
                    tag = "p"
            else:
                tag = _tag(word, position)
            lower = word.lower()
            term = index.get(lower)
            if term is None:
                term = terms.term(lower)
            tf[term] += 1
            if tag == "a":
                tf_case[term][0] += 1
            elif tag == "n":
                tf_case[term][1] += 1
            seen[term].add(number)
            clean = tag != "u" and tag != "d"
            if clean and previous is not None and previous[3]:  # YAKE's co-occurrence window: one word
                pairs.append((previous[2], term))
            entry = (word, lower, term, clean, stopword[term])
            if not entry[4]:
                keys.append(lower)
                grams.append((entry,))
                cleans.append(clean)
                if previous is not None and n > 1:
                    if not previous[4]:
                        keys.append(f"{previous[1]} {lower}")
                        grams.append((previous, entry))
                        cleans.append(clean and previous[3])
                    if n > 2 and before is not None and not before[4]:
                        keys.append(f"{before[1]} {previous[1]} {lower}")
                        grams.append((before, previous, entry))
                        cleans.append(clean and previous[3] and before[3])
            before, previous = previous, entry
    terms.edges.update(pairs)
    # Reversed, the first occurrence is the last one written, and so the one kept.
    first = dict(zip(reversed(keys), reversed(grams), strict=True))
    return _Candidates(list(dict.fromkeys(keys)), Counter(keys), first, set(compress(keys, cleans)))


def _phrase_scores(candidates: _Candidates, terms: _Terms, scores: dict[int, float]) -> dict[str, float]:
    # YAKE's composed score: prod(H) / ((sum(H) + 1) * tf); a stopword inside a phrase weighs by how
    # often its neighbours lead to it and it to them ("bi" weighting).
    result: dict[str, float] = {}
    edges = terms.edges
    for key in candidates.order:
        if key not in candidates.clean:
            continue
        members = [entry[2] for entry in candidates.first[key]]
        total = 0.0
        product = 1.0
        for index, term in enumerate(members):
            if not terms.stopword[term]:
                total += scores[term]
                product *= scores[term]
                continue
            before, after = members[index - 1], members[index + 1]  # never first nor last
            probability = (edges[before, term] / terms.tf[before]) * (edges[term, after] / terms.tf[after])
            product *= 1 + (1 - probability)
            total -= 1 - probability
        denominator = (total + 1) * candidates.tf[key]
        if denominator:  # YAKE would fail on the whole text here; the phrase alone is dropped instead
            result[key] = product / denominator
    return result


def _similarity(left: str, right: str) -> float:
    """YAKE's "seqm" similarity of two lower-cased candidates (its heuristic, not difflib's).

    Args:
        left: One candidate.
        right: The other.

    Returns:
        Between 0.0 (different) and 1.0 (the same).
    """
    if left == right:
        return 1.0
    longest = max(len(left), len(right))
    # YAKE's pre-filter: different length, first or last letter, or word count means different.
    if abs(len(left) - len(right)) > longest * 0.6:
        return 0.0
    if longest > 3 and (
        left[0] != right[0]
        or left[-1] != right[-1]
        or (min(len(left), len(right)) >= 3 and left[:2] != right[:2])
    ):
        return 0.0
    if abs(left.count(" ") - right.count(" ")) > 1:
        return 0.0
    length_ratio = min(len(left), len(right)) / longest
    if length_ratio < 0.3:
        return 0.0
    chars = set(left) | set(right)
    char_overlap = len(set(left) & set(right)) / len(chars)
    if char_overlap < 0.2:
        return 0.0
    if longest <= 4:
        return char_overlap * length_ratio
    left_words, right_words = left.split(), right.split()
    if len(left_words) > 1 or len(right_words) > 1:  # words written, not distinct words
        word_overlap = len(set(left_words) & set(right_words)) / len(set(left_words) | set(right_words))
        if word_overlap > 0.4:
            return word_overlap
    left_grams = {left[i : i + 3] for i in range(len(left) - 2)}
    right_grams = {right[i : i + 3] for i in range(len(right) - 2)}
    grams = left_grams | right_grams
    gram_overlap = len(left_grams & right_grams) / len(grams) if grams else 0
    return min(0.3 * length_ratio + 0.2 * char_overlap + 0.5 * gram_overlap, 1.0)


def key_phrases(text: str, stop: frozenset[str], n: int, top: int) -> list[str]:
    """Rank a text's key phrases as yake.KeywordExtractor(n=n, top=top, stopwords=stop) does.

    Args:
        text: The text, without line breaks.
        stop: Lower-cased stopwords.
        n: Longest phrase, in words.
        top: How many phrases to return.

    Returns:
        Up to ``top`` phrases as first written in the text, best first.
    """
    # YAKE's pre_filter: a text starting with a capital letter gets a paragraph break before it.
    text = ("\n\n" if re.match(r"\s*[A-Z]", text) else " ") + text.replace("\t", " ")
    sentences = [tokenize(sentence) for sentence in split_sentences(text)]
    terms = _Terms(stop)
    candidates = _read(sentences, terms, n)
    scored = _phrase_scores(candidates, terms, terms.scores(len(sentences)))
    chosen: list[str] = []
    for key in sorted(scored, key=scored.__getitem__):  # stable: ties stay in the text's order
        if all(_similarity(key, other) <= _DEDUP_LIMIT for other in chosen):
            chosen.append(key)
            if len(chosen) == top:
                break
    return [" ".join(entry[0] for entry in candidates.first[key]) for key in chosen]
