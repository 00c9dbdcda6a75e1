"""Language: langdetect on the body, seeded so that the same text always gets the same answer."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import replace

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from tasks.records import Article

logger = logging.getLogger(__name__)

# langdetect samples randomly; without a fixed seed the same text can get different answers per run.
DetectorFactory.seed = 0
# A bounded sample keeps the cost flat for very long articles; 3,000 characters hold ~450 words.
SAMPLE_CHARS = 3000
MIN_WORDS = 8
UNDETERMINED = "und"
_LOCK = threading.Lock()  # langdetect's lazy profile loading is not thread-safe


def detect_language(text: str | None) -> tuple[str, float | None]:
    """Detect the language of a text.

    Args:
        text: Article body (or any text).

    Returns:
        ``(ISO 639-1 code, probability)``; ``("und", None)`` where the text is too short or undecidable.
    """
    if not text or len(re.findall(r"\w+", text)) < MIN_WORDS:
        return UNDETERMINED, None
    sample = text[:SAMPLE_CHARS]
    try:
        with _LOCK:
            candidates = detect_langs(sample)
    except LangDetectException:
        return UNDETERMINED, None
    if not candidates:
        return UNDETERMINED, None
    best = candidates[0]
    code = str(best.lang).split("-")[0]  # zh-cn / zh-tw -> zh
    return code, round(float(best.prob), 4)


def enrich(article: Article) -> Article:
    """Set ``language`` and ``language_confidence`` from the article's text.

    Args:
        article: The article.

    Returns:
        The article with its language set.
    """
    code, probability = detect_language(article.text)
    return replace(article, language=code, language_confidence=probability)
