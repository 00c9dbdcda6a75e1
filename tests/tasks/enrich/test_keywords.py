import os
import socket
import subprocess
import sys

import pytest

from tasks.enrich.keywords import (
    MAX_KEYWORDS,
    SAMPLE_CHARS,
    enrich,
    extract_keywords,
    stopwords,
)
from tests.support.factories import make_article

GERMAN = """Hamburg (dpa) - Der Hamburger Hafen meldet für das erste Halbjahr einen deutlichen Rückgang beim Containerumschlag. Die Hafenbehörde führt das auf die schwache Weltkonjunktur und auf umgeleitete Containerschiffe zurück.

Containerumschlag sinkt deutlich

Nach Angaben der Hafenbehörde wurden im Hamburger Hafen rund vier Millionen Standardcontainer umgeschlagen. Der Hafenbetreiber HHLA rechnet dennoch mit einer Erholung im zweiten Halbjahr. Die Containerschiffe aus Asien kämen wieder pünktlicher, sagte ein Sprecher der Hafenbehörde.

Die Gewerkschaft Verdi fordert unterdessen mehr Investitionen in den Hamburger Hafen. Ohne eine moderne Infrastruktur verliere der Hafen weiter Marktanteile an Rotterdam und Antwerpen."""

ENGLISH = """LONDON (Reuters) - The Bank of England held interest rates steady on Thursday, saying inflation was still too high to cut borrowing costs. Governor Andrew Bailey said the central bank needed more evidence that price pressures were easing.

Economists had expected the decision. Financial markets now expect the first rate cut in the autumn, while some lenders have already lowered mortgage rates. The Bank of England will publish new forecasts for inflation and growth next month."""


def test_german_keywords():
    keywords = extract_keywords(GERMAN, "de", "Hamburger Hafen schlägt weniger Container um")
    assert 0 < len(keywords) <= MAX_KEYWORDS
    assert any("Hafen" in keyword for keyword in keywords)
    assert "dpa" not in keywords
    # German keywords end in a noun: no verb fragments
    assert all(keyword.split()[-1][0].isupper() for keyword in keywords)


def test_english_keywords():
    keywords = extract_keywords(ENGLISH, "en")
    assert 0 < len(keywords) <= MAX_KEYWORDS
    assert "Bank of England" in keywords
    assert "Reuters" not in keywords


def test_keywords_are_unique_ignoring_case_and_endings():
    keywords = extract_keywords(GERMAN, "de")
    words = [keyword.casefold() for keyword in keywords]
    assert len(words) == len(set(words))
    assert not ({"hafen", "hafens"} <= set(words))


def test_no_numbers_as_keywords():
    text = "Der Umsatz stieg 2024 auf 12.000 Euro. " * 3 + ENGLISH
    assert all(any(ch.isalpha() for ch in keyword) for keyword in extract_keywords(text, "en"))


def test_deterministic_within_and_across_processes():
    assert len({extract_keywords(GERMAN, "de") for _ in range(5)}) == 1
    # YAKE keeps sets and dicts of words: another process with another hash seed must agree.
    code = (
        "from tasks.enrich.keywords import extract_keywords\n"
        "from tests.tasks.enrich.test_keywords import GERMAN\n"
        "print(extract_keywords(GERMAN, 'de'))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert other.stdout == f"{extract_keywords(GERMAN, 'de')}\n"


def test_only_a_bounded_sample_is_read():
    tail = " Zusatzthema Quantencomputer." * 200
    padded = GERMAN + "\n" + "Weitere Sätze ohne Belang folgen hier. " * (SAMPLE_CHARS // 30) + tail
    assert not any("Quantencomputer" in keyword for keyword in extract_keywords(padded, "de"))


@pytest.mark.parametrize("language", ["zh", "ja"])
def test_unsegmented_scripts_get_no_keywords(language):
    assert extract_keywords("中央銀行は金利を据え置いた。" * 5, language) == ()


def test_language_without_stopword_list_gets_single_words():
    text = "Abantu abaningi bahlangene edolobheni ukuze bakhulume ngamanzi. " * 3
    keywords = extract_keywords(text, "zu")
    assert keywords and all(" " not in keyword for keyword in keywords)


def test_stopword_lists_ship_with_the_package_and_decode():
    assert "und" in stopwords("de") and "the" in stopwords("en")
    assert "ako" in stopwords("sk") and "čia" in stopwords("lt")  # lists in legacy 8-bit encodings
    assert stopwords("cs")  # langdetect's cs is YAKE's cz
    assert stopwords("zu") is None and stopwords(None) is None and stopwords("../x") is None


def test_empty_text():
    assert extract_keywords(None, "de") == () and extract_keywords("", "en") == ()


def test_enrich_uses_the_detected_language_then_the_declared_one():
    article = make_article(
        ENGLISH, title="Bank of England holds rates", language="und", declared_language="en"
    )
    enriched = enrich(article)
    assert enriched.keywords == extract_keywords(ENGLISH, "en", "Bank of England holds rates")


def test_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("keyword extraction tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    stopwords.cache_clear()
    assert extract_keywords(GERMAN, "de") and extract_keywords(ENGLISH, "en")
