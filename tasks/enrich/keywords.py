"""Keywords: a handful of key phrases per article by YAKE, with the stopwords of the article's language."""

from __future__ import annotations

import html
import logging
import math
import re
import string
import unicodedata
from collections import Counter
from dataclasses import replace
from functools import cache
from importlib import resources
from itertools import compress
from statistics import median
from typing import NamedTuple

import yake

from core.records import Article
from tasks.enrich.dateline import agency_code

logger = logging.getLogger(__name__)

MAX_KEYWORDS = 8
# YAKE costs 20-45 ms (median) on the first 3,000 characters, 50-80 ms and up to 600 ms on whole
# articles; news puts what matters first, and YAKE's own position feature weighs early mentions most.
# (The lean implementation below costs a few ms, but the sample also bounds the worst case.)
SAMPLE_CHARS = 3000
MAX_WORDS_PER_PHRASE = 3
_CANDIDATES = 24  # YAKE's top candidates, filtered down to MAX_KEYWORDS below
# langdetect's code -> the name of YAKE's stopword list where they differ.
_STOPWORD_LISTS = {"cs": "cz"}
# YAKE ships two lists in legacy 8-bit encodings (and decodes them wrongly itself, printing a warning).
_LIST_ENCODINGS = {"lt": "cp1257", "sk": "cp1250"}
# Scripts written without spaces: YAKE's tokenizer would return whole clauses as "words".
_UNSEGMENTED = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_TERMINAL = tuple(".!?:;…\"'»«“”")
_LETTER = re.compile(r"[^\W\d_]")

# --- YAKE 0.7.3 re-implemented -------------------------------------------------------------------
# yake.KeywordExtractor builds a networkx graph, an object per word and per candidate n-gram and
# calls numpy per word; the same algorithm on plain dicts and tuples costs a tenth. Its tokenizer,
# segtok, is ported too (with the standard re module), as it cost as much as all the rest.

_DEDUP_LIMIT = 0.9  # YAKE's default dedup_lim: candidates more similar to a better one are dropped
_PUNCTUATION = frozenset(string.punctuation)  # YAKE's "exclude": a token of these only ends a block
_STRIP_PUNCTUATION = str.maketrans("", "", string.punctuation)
# segtok's sentence terminals, word-breaking hyphens (a character class body) and apostrophes.
_TERMINALS = ".!?\u203c\u203d\u2047\u2048\u2049\u3002\ufe52\ufe57\uff01\uff0e\uff1f\uff61"
_HYPHENS = "\u00ad\u058a\u05be\u0f0c\u1400\u1806\u2010-\u2012\u2e17\u30a0-"
_APOSTROPHES = "'\u00b4\u02b9\u02bc\u2019\u2032"
_APOSTROPHE = "[\u00b4\u02b9\u02bc\u2019\u2032]"  # without the ASCII quote
# segtok's abbreviations that hardly ever end a sentence (as regular expressions).
_ABBREVIATIONS = re.findall(
    r"\S+",
    r"""
    approx Capt cf Col Dr f\.?e figs? Gen e\.?g i\.?e i\.?v
    Mag med Mr Mrs Mt nat No nr p\.e phil prof rer
    sci Sgt Sr Sra Srta St univ vol vs z\.B
    Jän Jan Ene Feb Mär Mar Apr Abr May Jun Jul Aug Sep Sept Oct Okt Nov Dic Dez Dec
    E\.U U\.K U\.S
    """,
)
_ABBREVIATIONS += [word.capitalize() for word in _ABBREVIATIONS if word[0].islower()]
_SHORT_SENTENCE = 55  # segtok: bracketed fragments shorter than this are not sentences of their own
# segtok searches patterns anchored at a span's end through the whole span, at every start position;
# their matches are short, so the search starts this far from the end (lookbehinds still see before):
# far enough for an abbreviation or initial, a quote and brackets, or a long word and an initial.
_SHORT_TAIL = 30
_LONG_TAIL = 100


class _Patterns(NamedTuple):
    """segtok's regular expressions, rewritten for the re module (which has no Unicode categories)."""

    segment: re.Pattern[str]
    abbreviation: re.Pattern[str]
    date_digits: re.Pattern[str]
    month: re.Pattern[str]
    continuation: re.Pattern[str]
    before_lower: re.Pattern[str]
    lower_word: re.Pattern[str]
    middle_initial_end: re.Pattern[str]
    upper_word_start: re.Pattern[str]
    lone_word: re.Pattern[str]
    upper_case_end: re.Pattern[str]
    upper_case_start: re.Pattern[str]
    web: re.Pattern[str]
    word: re.Pattern[str]
    words: re.Pattern[str]
    apostrophe: re.Pattern[str]
    contraction: re.Pattern[str]


@cache
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    # The re module knows no Unicode categories: find the ranges of those segtok's \p{..} name. Beyond
    # U+20000 there are only CJK ideographs (Lo), private use and tags, none of these categories.
    ranges: dict[str, list[tuple[int, int]]] = {name: [] for name in ("Lu", "Ll", "Lt", "Lm", "Nd", "Nl")}
    category = unicodedata.category
    current, start = "", 0
    for code in range(0x20001):
        name = category(chr(code)) if code < 0x20000 else ""
        if name != current:
            if current in ranges:
                ranges[current].append((start, code - 1))
            current, start = name, code
    return ranges


def _spans(*names: str, without: str = "") -> list[tuple[int, int]]:
    spans = sorted(span for name in names for span in _category_ranges()[name])
    for code in map(ord, without):
        spans = [
            part
            for first, last in spans
            for part in (((first, code - 1), (code + 1, last)) if first <= code <= last else ((first, last),))
            if part[0] <= part[1]
        ]
    return spans


def _range(first: int, last: int) -> str:
    return re.escape(chr(first)) + (f"-{re.escape(chr(last))}" if last > first else "")


def _class(*names: str, without: str = "", astral: bool = True) -> str:
    # A class of the categories named, less some characters, and without those beyond U+FFFF unless
    # astral: re tests such a class range by range, slowly for every character not in it (spaces,
    # punctuation), while a class within U+FFFF is one table lookup.
    spans = _spans(*names, without=without)
    return "[" + "".join(_range(first, last) for first, last in spans if astral or last <= 0xFFFF) + "]"


def _word_pattern(astral: bool) -> str:
    # segtok's word: a loop of alternatives; "$" is the end of a space-separated span.
    letter = _class("Ll", "Lm", "Lt", "Lu", astral=astral)
    number = _class("Nd", "Nl", astral=astral)
    alnum = _class("Ll", "Lm", "Lt", "Lu", "Nd", "Nl", astral=astral)
    hyphen = f"[{_HYPHENS}]"
    # Inside a word, a letter before a letter can only be a word of its own in segtok's loop of
    # alternatives: the first alternative here takes such runs at once, which is the same but faster.
    # (Two apostrophes are letters, Lm: they are left to the rest, which treats them specially.)
    inner = _class("Ll", "Lm", "Lt", "Lu", "Nd", "Nl", without=_APOSTROPHES, astral=astral)
    return (
        rf"(?:\B{inner}+(?={inner})|{alnum}\.(?!\.\.)|{alnum},(?={alnum})|{number}:(?={number})"
        rf"|{alnum}{_APOSTROPHE}?{hyphen}(?={alnum})|{_APOSTROPHE}(?!{_APOSTROPHE})|{alnum}'(?={alnum})|s'$"
        rf"|\b[yzafpn\u00b5mcdhkMGTPEZY]?{letter}{{1,3}}\u207b?[\u00b9\u00b2\u00b3]$"
        rf"|\b(?:[A-Z][a-z]?|[)\]])+[\u2080-\u2089]+(?:[\u00b2\u00b3]?[\u207a\u207b])?|{alnum})+"
    )


@cache
def _patterns(astral: bool = False) -> _Patterns:
    """Compile segtok's patterns.

    Args:
        astral: Whether the text has characters beyond U+FFFF (the patterns are slower with them).

    Returns:
        The patterns.
    """
    # Built on first use, not at import: scanning Unicode for the classes takes ~50 ms.
    lu, ll, lt, lm = (_class(name, astral=astral)[1:-1] for name in ("Lu", "Ll", "Lt", "Lm"))
    any_letter = r"[^\W\d_]"  # \p{L}; also takes No, which never matters where it is used
    hyphen = f"[{_HYPHENS}]"
    terminal = f"[{re.escape(_TERMINALS)}]"
    abbreviations = "|".join(sorted(_ABBREVIATIONS))
    # segtok's lookbehind (?<! \b\p{Lu}\p{Lm}? ) has no fixed width: two lookbehinds instead.
    initials = (
        rf"(?:\b(?:[Bb]y|[Cc](?:aptain|ommander)|[Dd]o[ck]tor|[Gg]eneral|[Mm](?:ag)?is(?:ter|s)"
        rf"|[Pp]rofessor|[Ss]e\u00f1or(?:it)?a?)\s"
        rf"|(?:(?<!\b[{lu}])(?<!\b[{lu}][{lm}]),(?:\sand)?|(?<!\b[{lu},])(?<!\b[{lu},][{lm}])\sand)\s"
        rf"|[\[(])(?:[{lu}{lt}][{lm}]?\.{hyphen}?)?[{lu}{lt}][{lm}]?"
    )
    alnum = _class("Ll", "Lm", "Lt", "Lu", "Nd", "Nl", astral=astral)
    span_end = r"(?!\S)"  # the end of a space-separated span, within a whole sentence
    return _Patterns(
        segment=re.compile(rf"({terminal}['\u2019\"\u201d]?[\])]*\s+|\n{{2,}})"),
        abbreviation=re.compile(rf"(?:\b(?:{abbreviations})|^\S|^\d+|{initials})$"),
        date_digits=re.compile(r"\b[0123]?[0-9]$"),
        month=re.compile(
            r"J[äa]n|Ene|Feb|M[äa]r|A[pb]r|May|Jun|Jul|Aug|Sep|O[ck]t|Nov|D[ei][cz]|0?[1-9]|1[012]"
        ),
        continuation=re.compile(
            r"(?:a(?:nd|re)|b(?:etween|y)|from|has|i(?:nto|s)|o[fr]|t(?:han|hat|hrough)|via"
            r"|w(?:as|ere|hether|ith))\b"
        ),
        # segtok matches ".*?(ending)\s+$"; searching the ending before the trailing spaces is the same.
        before_lower=re.compile(rf"(?:{terminal}\"[)\]]*|{terminal}[)\]]+|\bspp\.|\b{any_letter}[{ll}]?\.)$"),
        lower_word=re.compile(rf"[{ll}]+{hyphen}?[{ll}]*\b"),
        middle_initial_end=re.compile(rf"\b[{lu}][{ll}]+\W+[{lu}]$"),
        upper_word_start=re.compile(rf"[{lu}][{ll}]+\b"),
        lone_word=re.compile(rf"[{ll}]+[{ll}{_class('Nd', astral=astral)[1:-1]}{_HYPHENS}]*$"),
        upper_case_end=re.compile(rf"\b[{lu}{lt}]{any_letter}*\.\s+$"),
        upper_case_start=re.compile(rf"(?:(?:\(\d{{4}}\)\s)?[{lu}{lt}]{any_letter}*|\d+)[.,:]\s+"),
        web=re.compile(
            r"(?:^|(?<=[\s<\"'(\[{]))("
            r"[A-z]+://(?:[^@]+@)?(?:[\w-]+\.)+\w+(?::\d+)?(?:/[^?#\s'\">)\]}]*)?(?:\?[^#\s'\">)\]}]+)?"
            r"(?:#[^\s'\">)\]}]+)?"
            r"|[\w.#$%&'*+/=!?^`{|}~-]+@(?:[\w-]+\.)+\w+"
            r")(?=[\s>\"')\]}]|$)"
        ),
        word=re.compile(f"({_word_pattern(astral)})"),
        # One split of the whole sentence instead of one per span: spaces are dropped as separators,
        # and a span's end becomes "before a space or the end".
        words=re.compile(f"({_word_pattern(astral).replace('$', span_end)})|\\s+"),
        apostrophe=re.compile(_APOSTROPHE),
        contraction=re.compile(rf"{alnum}+(?:{hyphen}{alnum}+)*['{_APOSTROPHE[1:]}(?:d|ll|m|re|s|t|ve)$"),
    )


def _astral(text: str) -> bool:
    return bool(text) and max(text) > "\uffff"


def _is_open(span: str, brackets: str = "()") -> bool:
    # segtok's count: the brackets opened from the first opener on, less those closed after it.
    first = span.find(brackets[0])
    return first >= 0 and span.count(brackets[0]) - span.count(brackets[1], first) > 0


def _is_not_opened(span: str, brackets: str = "()") -> bool:
    # The mirror image: brackets closed up to the last closer, less those opened before it.
    last = span.rfind(brackets[1])
    return last >= 0 and span.count(brackets[1]) - span.count(brackets[0], 0, last) > 0


def _bracketed(last: str, current: str, brackets: str, patterns: _Patterns) -> bool:
    # A terminal inside brackets ends no sentence if the next span closes them or continues a name.
    return _is_open(last, brackets) and (
        _is_not_opened(current, brackets)
        or last.endswith(" et al. ")
        or bool(_ends(patterns.upper_case_end, last, _LONG_TAIL) and patterns.upper_case_start.match(current))
    )


def _ends(pattern: re.Pattern[str], text: str, tail: int) -> bool:
    return pattern.search(text, max(0, len(text) - tail)) is not None


def _join_abbreviations(spans: list[str], patterns: _Patterns) -> list[str]:
    # segtok's _abbreviation_joiner: spans alternate text, terminal, text, ...; a terminal after an
    # abbreviation, an initial or a day of the month does not end the sentence.
    joined: list[str] = []
    segment = -1
    total = len(spans)
    for pos in range(total):
        if pos % 2:
            before, marker = spans[pos - 1], spans[pos]
            after = spans[pos + 1] if pos + 1 < total else None
            if before[-1:].isspace():
                continue
            # (A span of digits only is one more abbreviation, tested here as the window might cut it.)
            if marker[0] == "." and (_ends(patterns.abbreviation, before, _SHORT_TAIL) or before.isdecimal()):
                continue
            if (
                marker[0] == "."
                and after
                and (
                    patterns.lone_word.match(after)
                    # (the last character tested first, as the searches cost)
                    or (
                        before[-1:].isdigit()
                        and _ends(patterns.date_digits, before, _SHORT_TAIL)
                        and patterns.month.match(after)
                    )
                    or (
                        before[-1:].isupper()
                        and _ends(patterns.middle_initial_end, before, _LONG_TAIL)
                        and patterns.upper_word_start.match(after)
                    )
                )
            ):
                continue
            joined.append("".join(spans[segment : pos + 1]))
            segment = -1
        elif segment < 0:
            segment = pos
    if segment >= 0:
        joined.append("".join(spans[segment:]))
    return joined


def _split_sentences(text: str) -> list[str]:
    """Split text into sentences as segtok's split_multi does (YAKE's sentence splitter).

    Args:
        text: Text without line breaks.

    Returns:
        The stripped sentences, empty ones left out.
    """
    patterns = _patterns(_astral(text))
    sentences: list[str] = []
    last: str | None = None
    for current in _join_abbreviations(patterns.segment.split(text), patterns):
        if last is None:
            last = current
            continue
        short = len(current) < _SHORT_SENTENCE or len(last) < _SHORT_SENTENCE
        if (
            # "U.S. was", "(Hello!) said": no new sentence before a lower-case word after these
            (
                last[-1:].isspace()
                and _ends(patterns.before_lower, last.rstrip(), _SHORT_TAIL)
                and patterns.lower_word.match(current)
            )
            or (
                short
                and (_bracketed(last, current, "()", patterns) or _bracketed(last, current, "[]", patterns))
            )
            or patterns.continuation.match(current)  # "... and", "... of": English continues
        ):
            last += current
        else:
            sentences.append(last.strip())
            last = current
    if last is not None:
        sentences.append(last.strip())
    return [sentence for sentence in sentences if sentence]


def _word_tokens(span: str, patterns: _Patterns) -> list[str]:
    # segtok's word_tokenizer: words (with inner dots, hyphens, apostrophes) and runs of other symbols.
    tokens = [token for token in patterns.words.split(span) if token]
    # The sentence's terminal is cut off the last word (looking at the last three tokens only).
    for back, token in enumerate(reversed(tokens[-3:]), 1):
        if (patterns.word.match(token) and not patterns.apostrophe.match(token)) or any(
            char in _TERMINALS for char in token
        ):
            end = len(token) - 1
            if end == 0 or token == "...":
                pass
            elif any(token.rfind(char) == end for char in _TERMINALS):
                tokens[-back : len(tokens) - back + 1] = [token[:-1], token[-1]]
            elif any(token.find(char) == 0 for char in _TERMINALS):
                tokens[-back : len(tokens) - back + 1] = [token[0], token[1:]]
            break
    # Dangling commas, semicolons and colons become tokens of their own.
    if not any(len(token) > 1 and token[-1] in ",;:" for token in tokens):
        return tokens
    spliced: list[str] = []
    for token in tokens:
        tail: list[str] = []
        while len(token) > 1 and token[-1] in ",;:":
            tail.append(token[-1])
            token = token[:-1]
        spliced.append(token)
        spliced.extend(reversed(tail))
    return spliced


def _tokenize(sentence: str) -> list[str]:
    """Split a sentence into tokens as YAKE does (segtok's web_tokenizer and split_contractions).

    Args:
        sentence: One sentence.

    Returns:
        Words and punctuation; URLs and e-mail addresses whole, "'s" and the like left out.
    """
    patterns = _patterns(_astral(sentence))
    if "@" in sentence or "://" in sentence:
        spans = patterns.web.split(sentence)
        tokens = [
            token
            for index, span in enumerate(spans)
            for token in ((span,) if index % 2 else _word_tokens(html.unescape(span), patterns))
        ]
    else:
        tokens = _word_tokens(html.unescape(sentence), patterns)
    result: list[str] = []
    for token in tokens:
        if any(char in _APOSTROPHES for char in token) and patterns.contraction.match(token):
            cut = max(token.rfind(char) for char in _APOSTROPHES)
            if len(token) > 2 and cut + 2 == len(token) and token[-1] == "t" and token[cut - 1] == "n":
                cut -= 1  # "do" + "n't"
            result.append(token[:cut])
            token = token[cut:]
        if token and not (token[0] == "'" and len(token) > 1):
            result.append(token)
    return result


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


def _yake(text: str, stop: frozenset[str], n: int, top: int) -> list[str]:
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
    sentences = [_tokenize(sentence) for sentence in _split_sentences(text)]
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


@cache
def stopwords(language: str | None) -> frozenset[str] | None:
    """Load YAKE's stopword list for a language, from the files the package ships.

    Args:
        language: ISO 639-1 code.

    Returns:
        The stopwords, or None where YAKE has no list for the language.
    """
    if not language:
        return None
    name = _STOPWORD_LISTS.get(language, language)
    resource = resources.files(yake).joinpath("core", "StopwordsList", f"stopwords_{name}.txt")
    if not re.fullmatch(r"[a-z]{2}", name) or not resource.is_file():
        return None
    words = resource.read_text(encoding=_LIST_ENCODINGS.get(name, "utf-8")).lower().split()
    return frozenset(words) or None


def _prepare(title: str | None, text: str) -> str:
    # YAKE joins lines with a space, gluing each sub-heading to the next sentence: end every line that
    # lacks it with a full stop, so headings and paragraphs stay sentences of their own.
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and " " in sample:
        sample = sample.rsplit(" ", 1)[0]  # never a half word at the cut
    lines = [line.strip() for line in ([title] if title else []) + sample.splitlines()]
    return " ".join(line if line.endswith(_TERMINAL) else f"{line}." for line in lines if line)


def _same_word(left: str, right: str) -> bool:
    # Usyk/Usyks, Soldat/Soldaten: an inflection ending is not a new keyword.
    short, long = sorted((left, right), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short) and len(long) - len(short) <= 2)


def _overlaps(words: list[str], chosen: list[list[str]]) -> bool:
    for other in chosen:
        shared = sum(1 for word in words if any(_same_word(word, seen) for seen in other))
        if shared * 2 >= min(len(words), len(other)):
            return True
    return False


def _acceptable(phrase: str, language: str | None) -> bool:
    words = phrase.split()
    if any(not _LETTER.search(word) for word in words):
        return False  # "2024-10", "12.000": numbers are no topic
    if len(words) == 1 and agency_code(phrase) not in (None, "press-release"):
        return False  # the dateline's credit ("dpa") is no topic either
    # German capitalises its nouns: a phrase should end in one, and start with one unless it is an
    # adjective before its noun; this drops YAKE's verb fragments ("Feuerwehr kämpft").
    return language != "de" or (words[-1][0].isupper() and (len(words) <= 2 or words[0][0].isupper()))


def extract_keywords(text: str | None, language: str | None, title: str | None = None) -> tuple[str, ...]:
    """Extract up to ``MAX_KEYWORDS`` key phrases, best first.

    Uses the stopword list of ``language`` where YAKE ships one; other languages get no stopwords and
    single words only (phrases would start and end in function words); Chinese, Japanese, Thai and
    other unsegmented scripts get none, as YAKE cannot split them into words.

    Args:
        text: Article text (only the first ``SAMPLE_CHARS`` characters are read).
        language: ISO 639-1 code, or None/``und``.
        title: The headline, read as the text's first sentence.

    Returns:
        Key phrases as written in the text, unique ignoring case and inflection endings.
    """
    if not text or language in _UNSEGMENTED:
        return ()
    words = stopwords(language)
    # Without a list of its own, yake.KeywordExtractor fell back to the list named by the code's first
    # two letters (English for no language), else to none: the same here, to rank as it did.
    stop = words or stopwords((language or "en")[:2].lower()) or frozenset()
    found: list[str] = []
    chosen: list[list[str]] = []
    for phrase in _yake(_prepare(title, text), stop, MAX_WORDS_PER_PHRASE if words else 1, _CANDIDATES):
        folded = phrase.casefold().split()
        if not _acceptable(phrase, language) or _overlaps(folded, chosen):
            continue
        found.append(phrase)
        chosen.append(folded)
        if len(found) == MAX_KEYWORDS:
            break
    return tuple(found)


def enrich(article: Article) -> Article:
    """Set ``keywords`` from the title and text, in the language the language enricher found.

    Args:
        article: The article (``language`` set, or ``declared_language`` as a fallback).

    Returns:
        The article with its keywords.
    """
    language = article.language if article.language not in (None, "und") else article.declared_language
    return replace(article, keywords=extract_keywords(article.text, language, article.title))
