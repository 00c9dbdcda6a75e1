from datetime import UTC, datetime

import pytest

from tasks.enrich.language import detect_language, enrich
from tasks.records import Article

SAMPLES = {
    "de": "Die Verteidigungsminister der Nato-Staaten haben sich bei einem Treffen in Brüssel auf neue Ziele für die Vorräte verständigt.",
    "en": "The defence ministers of the alliance agreed on new targets for their ammunition stocks at a meeting in Brussels on Monday.",
    "fr": "Les ministres de la Défense de l'alliance se sont mis d'accord lundi à Bruxelles sur de nouveaux objectifs pour leurs stocks.",
    "es": "Los ministros de Defensa de la alianza acordaron el lunes en Bruselas nuevos objetivos para sus reservas de munición.",
    "it": "I ministri della Difesa dell'alleanza hanno concordato lunedì a Bruxelles nuovi obiettivi per le loro scorte di munizioni.",
}


@pytest.mark.parametrize(("code", "text"), SAMPLES.items())
def test_detects_common_news_languages(code, text):
    detected, probability = detect_language(text)
    assert detected == code
    assert probability is not None and probability > 0.8


def test_is_deterministic():
    text = "Ein kurzer, aber eindeutig deutscher Satz über das Wetter in Hamburg am Montag."
    assert len({detect_language(text) for _ in range(20)}) == 1


@pytest.mark.parametrize("text", [None, "", "Kurz.", "12 34 56", "!!! ??? ..."])
def test_too_short_or_empty_is_undetermined(text):
    assert detect_language(text) == ("und", None)


def test_enrich_sets_fields():
    article = Article(
        url="u",
        feed_url="f",
        link="u",
        guid=None,
        title="t",
        text=SAMPLES["fr"],
        fetched_at=datetime.now(UTC),
        extraction_status="ok",
    )
    enriched = enrich(article)
    assert enriched.language == "fr" and enriched.language_confidence > 0.8
