"""The news enrichers together on the seed wire story, in the order they are meant to run."""

import re
from pathlib import Path

import pytest

from tasks.enrich import dateline, enrich_article, keywords, language, quotes, stats
from tests.support.factories import make_article

SEED = Path(__file__).resolve().parents[4] / "shared" / "seed"
CHAIN = (language.enrich, dateline.enrich, quotes.enrich, keywords.enrich, stats.enrich)

pytestmark = pytest.mark.skipif(not SEED.is_dir(), reason="needs ../shared/seed")


def seed_text():
    raw = next(SEED.glob("*.txt")).read_text(encoding="utf-8")
    # The corpus file opens with a "date YYYY-MM" header that is not part of the published body.
    return re.sub(r"^\s*date \d{4}-\d{2}\s+", "", raw)


def test_seed_story_through_the_news_enrichers():
    text = seed_text()
    article = make_article(
        text,
        title="Nato-Chef Rutte beziffert russische Verluste auf mehr als 600.000",
        authors=("dpa",),
        declared_language="de",
    )
    enriched = enrich_article(article, CHAIN)
    assert enriched.text == text
    assert (enriched.language, enriched.title_language) == ("de", "de")
    assert enriched.language_confidence > 0.99
    assert enriched.dateline_place == "Brüssel" and enriched.agencies == ("dpa",)
    assert len(enriched.quotes) == 5
    assert 0 < len(enriched.keywords) <= keywords.MAX_KEYWORDS
    assert "dpa" not in enriched.keywords
    assert enriched.paragraph_count == text.count("\n\n") + 1
    assert enriched.word_count > 500
