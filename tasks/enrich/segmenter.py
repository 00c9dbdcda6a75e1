"""Sentences and words as segtok splits them for YAKE, ported to the standard re module.

segtok (YAKE's tokenizer) cost as much as all the rest of YAKE; the port returns the same sentences
and tokens.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache
from typing import NamedTuple

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


def split_sentences(text: str) -> list[str]:
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


def tokenize(sentence: str) -> list[str]:
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
