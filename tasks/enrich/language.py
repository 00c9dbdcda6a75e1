"""Language: langdetect on the body (seeded), weighed against the language the page declares.

langdetect is the first opinion. Where it is weak, has nothing to confirm it or disagrees with the page's
declaration, a second detector with wider coverage (lingua, 75 languages with Zulu, Xhosa, Sotho, Tswana,
Tsonga, Icelandic, Malay, ...; its models ship inside its wheel, nothing is downloaded) decides, or the answer
is ``und``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from langdetect.detector_factory import PROFILES_DIRECTORY

from core.records import Article
from tasks.enrich.langfast import LangDetectException, detect_langs

logger = logging.getLogger(__name__)

# A bounded sample keeps the cost flat: on the 126 corpus bodies the first 1,000 characters (~150 words)
# give the full text's answer every time, at 2.7 instead of 9.9 ms (full text) per article with
# langdetect itself; tasks/enrich/langfast.py gives the same answers at about a quarter of that.
SAMPLE_CHARS = 1000
MIN_WORDS = 8
# Titles are short, and langdetect guesses wildly on a handful of words: below this we say nothing.
MIN_TITLE_WORDS = 4
MIN_TITLE_LETTERS = 20
UNDETERMINED = "und"
# With no declaration to lean on, a detector answer below this is a guess, not a finding.
MIN_CONFIDENCE = 0.8
# Above this the body outweighs a contradicting declaration (CMS templates often declare a site-wide
# default such as "en"); below it, the disagreement is more likely a related-language mix-up
# (hr/sr, pt/gl, da/no) or a mixed-language text, where the page's own statement is the better bet.
OVERRIDE_CONFIDENCE = 0.99
# The languages langdetect has profiles for (zh-cn/zh-tw folded to zh), read from the installed package
# so the set cannot drift from the pin. For any other language the detector cannot be right, only
# confidently wrong (Zulu comes out as Swahili with p > 0.99).
DETECTABLE = frozenset(name.split("-")[0] for name in os.listdir(PROFILES_DIRECTORY))
# Deprecated or macro-language codes pages still declare, mapped to the code langdetect answers with.
_DECLARED_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "nb": "no", "nn": "no"}
# Country codes that pages put where the language belongs (lang="kr" on Korean pages). Most are no
# language code at all; "kr" (Kanuri) is, but written in Latin or Arabic script it is never what a
# Hangul page means. Without this the declaration would win as a language langdetect cannot check.
_DECLARED_ALIASES.update({"kr": "ko", "jp": "ja", "cn": "zh", "gr": "el", "dk": "da", "cz": "cs", "ua": "uk"})
# Codes that declare no particular language: treat them as no declaration at all.
_NOT_A_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", "xx"})
# The second detector's answer counts only at or above this confidence (its values sum to 1 over languages).
SECOND_MIN_CONFIDENCE = 0.8
# lingua's ISO 639-1 codes where langdetect answers with another one for the same language.
_SECOND_ALIASES = {"nb": "no", "nn": "no"}
_WORD = re.compile(r"\w+")
_LETTER = re.compile(r"[^\W\d_]")


def language_candidates(text: str | None, min_words: int = MIN_WORDS) -> list[tuple[str, float]]:
    """Run langdetect once on a bounded sample of a text.

    Args:
        text: Any text.
        min_words: Fewer words than this give no candidates.

    Returns:
        ``(ISO 639-1 code, probability)`` pairs, most probable first; empty where the text is too short
        or undecidable.
    """
    if not text or len(_WORD.findall(text[:SAMPLE_CHARS])) < min_words:
        return []
    try:
        found = detect_langs(text[:SAMPLE_CHARS])
    except LangDetectException:  # no n-gram langdetect knows ("No features in text.")
        return []
    candidates: dict[str, float] = {}
    for lang, probability in found:
        code = lang.split("-")[0]  # zh-cn / zh-tw -> zh
        candidates[code] = candidates.get(code, 0.0) + probability
    return sorted(candidates.items(), key=lambda item: -item[1])


def detect_language(text: str | None) -> tuple[str, float | None]:
    """Detect the language of a text by langdetect alone.

    Args:
        text: Article body (or any text).

    Returns:
        ``(ISO 639-1 code, probability)``; ``("und", None)`` where the text is too short or undecidable.
    """
    candidates = language_candidates(text)
    if not candidates:
        return UNDETERMINED, None
    code, probability = candidates[0]
    return code, round(probability, 4)


def normalise_declared(declared: str | None) -> str | None:
    """Reduce a declared language tag (``de-DE``, ``pt_BR``, ``iw``) to an ISO 639-1 code.

    Args:
        declared: What the page or feed declares.

    Returns:
        A two-letter code, or None where nothing usable is declared.
    """
    if not declared:
        return None
    primary = re.split(r"[-_\s]", declared.strip().lower(), maxsplit=1)[0]
    if primary in _NOT_A_LANGUAGE or not re.fullmatch(r"[a-z]{2}", primary):
        # Three-letter ISO 639-2/3 codes have no two-letter equivalent we could check against.
        return None
    return _DECLARED_ALIASES.get(primary, primary)


@functools.cache
def _second_detector() -> Any:
    """The second detector: lingua over all its languages, built on first use only.

    Its first call loads the trigram models into the process (seconds and tens of MB; docs/schema.md,
    "Language"), so pages where langdetect and the declaration agree never load it.
    """
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


@functools.cache
def second_detectable() -> frozenset[str]:
    """ISO 639-1 codes the second detector knows, in langdetect's spelling (``nb``/``nn`` as ``no``)."""
    from lingua import Language

    codes = (language.iso_code_639_1.name.lower() for language in Language.all())
    return frozenset(_SECOND_ALIASES.get(code, code) for code in codes)


def second_opinion(text: str | None) -> tuple[str, float] | None:
    """The second detector's answer on the same bounded sample that langdetect reads.

    Args:
        text: The body.

    Returns:
        ``(ISO 639-1 code, confidence)``, or None where it cannot tell.
    """
    if not text or not text.strip():
        return None
    values = _second_detector().compute_language_confidence_values(text[:SAMPLE_CHARS])
    if not values:
        return None
    code = values[0].language.iso_code_639_1.name.lower()
    return _SECOND_ALIASES.get(code, code), float(values[0].value)


def decide_language(
    candidates: list[tuple[str, float]],
    declared: str | None,
    second: Callable[[], tuple[str, float] | None] | None = None,
) -> tuple[str, float | None]:
    """Combine the detector's candidates with the declared language into one answer.

    With a second opinion (``second``, asked only where needed): langdetect and the declaration agreeing
    settle it; otherwise the second detector decides — the declared language where it confirms that, langdetect's
    where it confirms that, its own answer where it is sure of it (``SECOND_MIN_CONFIDENCE``), else ``und``.
    A declared language neither detector knows (Galician) is taken as declared: nothing can refute it.

    Without a second opinion, the rules, in order:

    1. No candidates (text too short or undecidable): ``und``; a declaration alone does not make a
       body language, it stays in ``declared_language``.
    2. Declared language langdetect has no profile for (zu, ms, sr, eu, gl, …): the declaration wins,
       whatever the detector says, because the detector can only be wrong there. Probability None.
    3. Detector agrees with the declaration: that code, with the detector's probability.
    4. Detector disagrees with probability ≥ ``OVERRIDE_CONFIDENCE``: the detector wins (a site-wide
       default declaration is the usual cause).
    5. Detector disagrees, less sure: the declaration wins, with the detector's probability for it
       (None when the detector did not list it).
    6. No declaration: the detector's code when its probability is ≥ ``MIN_CONFIDENCE``, else ``und``.

    Args:
        candidates: ``language_candidates`` output, most probable first.
        declared: The declared language (any tag form), or None.
        second: Asks the second detector (see :func:`second_opinion`); None keeps to langdetect and
            the declaration alone.

    Returns:
        ``(code, probability)`` where probability is langdetect's for that code, or None.
    """
    if not candidates:
        return UNDETERMINED, None
    best, probability = candidates[0]
    declared_code = normalise_declared(declared)
    if second is not None and best != declared_code:
        return _second_decides(candidates, declared_code, second)
    if declared_code is None:
        if probability >= MIN_CONFIDENCE:
            return best, round(probability, 4)
        return UNDETERMINED, None
    if declared_code not in DETECTABLE:
        return declared_code, None
    if best == declared_code or probability >= OVERRIDE_CONFIDENCE:
        return best, round(probability, 4)
    declared_probability = dict(candidates).get(declared_code)
    return declared_code, round(declared_probability, 4) if declared_probability is not None else None


def _second_decides(
    candidates: list[tuple[str, float]],
    declared: str | None,
    second: Callable[[], tuple[str, float] | None],
) -> tuple[str, float | None]:
    """The second detector's verdict where langdetect has no declaration to agree with, or disagrees."""
    listed = dict(candidates)

    def answer(code: str) -> tuple[str, float | None]:
        probability = listed.get(code)
        return code, round(probability, 4) if probability is not None else None

    if declared is not None and declared not in DETECTABLE and declared not in second_detectable():
        return declared, None
    opinion = second()
    if opinion is None:
        return UNDETERMINED, None
    code, confidence = opinion
    if code in (declared, candidates[0][0]) or confidence >= SECOND_MIN_CONFIDENCE:
        return answer(code)
    return UNDETERMINED, None


def title_language(title: str | None, candidates: list[tuple[str, float]] | None = None) -> str | None:
    """Detect a title's language where the title is long enough to tell.

    Args:
        title: The headline.
        candidates: Detector output already computed for this very text, to reuse instead of
            running langdetect again.

    Returns:
        An ISO 639-1 code, or None for short titles and unsure answers.
    """
    if not title or len(_LETTER.findall(title)) < MIN_TITLE_LETTERS:
        return None
    if not candidates:
        candidates = language_candidates(title, min_words=MIN_TITLE_WORDS)
    if not candidates or candidates[0][1] < MIN_CONFIDENCE:
        return None
    return candidates[0][0]


def enrich(article: Article) -> Article:
    """Set ``language``, ``language_confidence`` and ``title_language``.

    Args:
        article: The article, with ``declared_language`` as extraction found it.

    Returns:
        The article with its language set.
    """
    candidates = language_candidates(article.text)
    code, probability = decide_language(
        candidates, article.declared_language, lambda: second_opinion(article.text)
    )
    if candidates and code not in (candidates[0][0], UNDETERMINED):
        logger.debug(
            "%s: declared %r kept over detected %s (p=%.3f)",
            article.url,
            article.declared_language,
            candidates[0][0],
            candidates[0][1],
        )
    # A feed summary standing in for the body can be the title itself: never detect one text twice.
    same_text = bool(article.title and article.text and article.title.strip() == article.text.strip())
    headline = title_language(article.title, candidates if same_text else None)
    return replace(article, language=code, language_confidence=probability, title_language=headline)
