from datetime import UTC, datetime

from tasks.enrich import enrich_article
from tasks.enrich.stats import content_hash, count_words, enrich
from tasks.records import Article


def article(text):
    return Article(
        url="u",
        feed_url="f",
        link="u",
        guid=None,
        title="t",
        text=text,
        fetched_at=datetime.now(UTC),
        extraction_status="ok",
    )


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
