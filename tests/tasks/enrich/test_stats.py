from dataclasses import replace

import pytest

from tasks.enrich import enrich_article
from tasks.enrich.stats import (
    CJK_CHARS_PER_MINUTE,
    content_hash,
    count_cjk_characters,
    count_paragraphs,
    count_words,
    enrich,
    reading_time_min,
)
from tests.support.factories import make_article


def article(text):
    return make_article(text)


def test_word_count_and_reading_time():
    enriched = enrich(article("Brüssel (dpa) - Die Nato tagt. " * 46))  # 5 words x 46 = 230 words
    assert enriched.word_count == 230
    assert enriched.reading_time_min == 1.0


def test_content_hash_ignores_case_and_whitespace_but_not_words():
    assert content_hash("Die Nato  tagt.\n\nHeute.") == content_hash("die nato tagt heute")
    assert content_hash("Die Nato tagt.") != content_hash("Die Nato tagt nicht.")
    assert content_hash(None) is None
    assert count_words(None) == 0


def test_the_enricher_chain_runs_all_enrichers():
    enriched = enrich_article(
        article(
            "Der Bundestag hat am Donnerstag nach langer Debatte ein neues Gesetz zur Förderung von Windkraft beschlossen."
        )
    )
    assert enriched.language == "de"
    assert enriched.word_count == 16
    assert enriched.content_hash


@pytest.mark.parametrize(
    ("text", "paragraphs"),
    [
        (None, 0),
        ("", 0),
        ("Ein Absatz ohne Umbruch.", 1),
        ("Erster Absatz.\n\nZwischentitel\n\nZweiter Absatz.\n", 3),
        ("Eins.\n   \n\t\nZwei.\r\nDrei.", 3),
    ],
)
def test_paragraph_count(text, paragraphs):
    assert count_paragraphs(text) == paragraphs
    assert enrich(article(text)).paragraph_count == paragraphs


@pytest.mark.parametrize(
    ("text", "words", "cjk"),
    [
        ("中央银行维持利率不变。", 10, 10),  # Chinese: one word per ideograph, punctuation not counted
        ("日本銀行は金利を据え置いた。", 13, 13),  # Japanese: kanji and kana alike
        ("トヨタの新型EVは2025年に発売", 13, 11),  # Latin and digit runs count as words of their own
        ("한국은행이 기준금리를 동결했다", 3, 0),  # Korean separates words with spaces
        ("Die Nato tagt.", 3, 0),
    ],
)
def test_cjk_word_count(text, words, cjk):
    assert count_cjk_characters(text) == cjk
    assert count_words(text) == words


def test_cjk_reading_time_uses_the_character_rate():
    text = "中" * CJK_CHARS_PER_MINUTE
    assert reading_time_min(text) == 1.0
    assert reading_time_min("中" * CJK_CHARS_PER_MINUTE + " word" * 230) == 2.0
    assert reading_time_min(None) == 0.0


def test_enrich_leaves_paywalled_alone():
    assert enrich(replace(article("Ein Text."), paywalled=True)).paywalled is True
    assert enrich(article("Ein Text.")).paywalled is None
