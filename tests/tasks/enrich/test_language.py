import pytest

from tasks.enrich import language as language_module
from tasks.enrich.language import (
    DETECTABLE,
    decide_language,
    detect_language,
    enrich,
    language_candidates,
    normalise_declared,
    title_language,
)
from tests.support.factories import make_article

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
    article = make_article(SAMPLES["fr"])
    enriched = enrich(article)
    assert enriched.language == "fr" and enriched.language_confidence > 0.8


# --------------------------------------------------------------------------- combining with the declaration

ZULU = (
    "Abantu abaningi bahlangene edolobheni ngoMsombuluko ukuze bakhulume ngezinkinga zamanzi "
    "nogesi endaweni yabo. Umphathi wedolobha uthe uhulumeni uzosiza ngokushesha."
)
GALICIAN = "O goberno anunciou este luns que a nova lei entrará en vigor a comezos do ano que vén."


def make(text, declared=None, title="t"):
    return make_article(text, title=title, declared_language=declared)


@pytest.mark.parametrize(
    ("candidates", "declared", "expected"),
    [
        ([], "de", ("und", None)),  # too short: a declaration alone is no detected body language
        ([("sw", 0.9999)], "zu", ("zu", None)),  # langdetect has no Zulu: trust the page
        ([("hr", 0.9999)], "sr", ("sr", None)),
        ([("pt", 0.57), ("es", 0.29)], "gl", ("gl", None)),
        ([("de", 0.9998)], "de", ("de", 0.9998)),
        ([("de", 0.6), ("en", 0.4)], "de", ("de", 0.6)),  # agreement needs no high probability
        ([("de", 0.9999)], "en", ("de", 0.9999)),  # a site-wide default declaration loses
        ([("da", 0.85), ("no", 0.14)], "nb", ("no", 0.14)),  # related languages: the page knows better
        ([("fr", 0.7)], "en", ("en", None)),
        ([("en", 0.6), ("de", 0.4)], None, ("und", None)),  # no declaration, not confident
        ([("en", 0.95)], None, ("en", 0.95)),
        ([("id", 0.9)], "und", ("id", 0.9)),  # "und" declares nothing
        ([("fr", 0.95)], "fra", ("fr", 0.95)),  # three-letter codes cannot be checked: ignored
        ([("sw", 0.9999)], None, ("sw", 0.9999)),  # known limit: undeclared Zulu reads as Swahili
    ],
)
def test_decide_language(candidates, declared, expected):
    assert decide_language(candidates, declared) == expected


@pytest.mark.parametrize(
    ("declared", "code"),
    [
        ("de", "de"),
        ("de-DE", "de"),
        ("pt_BR", "pt"),
        (" EN-us ", "en"),
        ("iw", "he"),
        ("nb", "no"),
        ("kr", "ko"),  # a country code where the language belongs
        ("JP", "ja"),
        ("und", None),
        ("mul", None),
        ("deu", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_declared(declared, code):
    assert normalise_declared(declared) == code


def test_detectable_languages_are_langdetects_profiles():
    assert {"de", "en", "fr", "sw", "zh"} <= DETECTABLE
    assert not {"zu", "ms", "sr", "gl", "eu"} & DETECTABLE


def test_zulu_page_is_not_swahili():
    assert enrich(make(ZULU, declared="zu")).language == "zu"
    assert enrich(make(ZULU, declared="zu")).language_confidence is None


def test_galician_page_keeps_its_declaration():
    assert enrich(make(GALICIAN, declared="gl")).language == "gl"


def test_body_outweighs_a_wrong_site_default():
    enriched = enrich(make(SAMPLES["de"], declared="en"))
    assert enriched.language == "de" and enriched.language_confidence > 0.99


def test_short_body_is_undetermined_even_when_declared():
    enriched = enrich(make("Kurz und knapp.", declared="de"))
    assert (enriched.language, enriched.language_confidence) == ("und", None)


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("Nato-Minister einigen sich in Brüssel auf neue Munitionsziele", "de"),
        ("Alliance ministers agree on new ammunition targets in Brussels", "en"),
        ("Nato tagt", None),  # too short to tell
        ("Rutte: Ja", None),
        ("", None),
        (None, None),
    ],
)
def test_title_language(title, code):
    assert title_language(title) == code


def test_title_in_another_language_than_the_body():
    enriched = enrich(
        make(SAMPLES["de"], title="Alliance ministers agree on new ammunition targets in Brussels")
    )
    assert (enriched.language, enriched.title_language) == ("de", "en")


def test_same_text_is_detected_once(monkeypatch):
    calls = []
    real = language_module.detect_langs

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(language_module, "detect_langs", counting)
    enriched = enrich(make(SAMPLES["en"], title=SAMPLES["en"]))
    assert enriched.title_language == "en" and len(calls) == 1
    calls.clear()
    enrich(make(SAMPLES["en"], title="Alliance ministers agree on new ammunition targets in Brussels"))
    assert len(calls) == 2  # body and title, each once


def test_a_country_code_declaration_does_not_override_a_clear_detection():
    text = "서울시는 오늘 새로운 대중교통 정책을 발표했다. 시민들은 버스와 지하철 요금이 내년부터 조정된다는 소식에 다양한 반응을 보였다. 시 관계자는 교통 약자를 위한 지원도 확대하겠다고 밝혔다."
    code, _ = decide_language(language_candidates(text), "kr")
    assert code == "ko"


# --------------------------------------------------------------------------- the second opinion (lingua)

XHOSA = (
    "Umongameli uthe urhulumente uza kuqhubeka nokusebenzisana noluntu ukuze kuphuculwe iimeko zokuphila "
    "kwiindawo zasemaphandleni, kwaye iinkqubo ezintsha ziya kuqaliswa kunyaka ozayo."
)


@pytest.mark.parametrize(
    ("text", "declared", "code"),
    [
        (ZULU, None, "zu"),  # langdetect alone: Swahili, p > 0.99
        (ZULU, "en", "zu"),  # a template's default declaration, langdetect sure of Swahili
        (XHOSA, None, "xh"),
        (XHOSA, "xh", "xh"),
        (SAMPLES["en"], "zu", "en"),  # a wrong declaration of a language the second detector knows
        (GALICIAN, "gl", "gl"),  # neither detector knows Galician: the declaration stands
    ],
)
def test_languages_langdetect_does_not_know_are_decided_by_the_second_detector(text, declared, code):
    assert enrich(make(text, declared)).language == code


def test_the_second_detector_covers_zulu_and_xhosa_and_is_asked_only_where_needed():
    assert {"zu", "xh", "st", "tn", "ts", "is", "ms"} <= language_module.second_detectable()
    assert language_module.second_opinion(ZULU)[0] == "zu"

    def never():
        raise AssertionError("langdetect and the declaration agree: no second opinion needed")

    assert decide_language([("de", 0.9998)], "de", never) == ("de", 0.9998)
    assert decide_language([("sw", 0.9999)], "en", lambda: ("zu", 0.99)) == ("zu", None)
    assert decide_language([("en", 0.95)], None, lambda: ("en", 0.97)) == ("en", 0.95)
    assert decide_language([("pt", 0.6)], None, lambda: ("es", 0.4)) == ("und", None)  # nobody is sure
    assert decide_language([("sw", 0.9999)], None, lambda: None) == ("und", None)
