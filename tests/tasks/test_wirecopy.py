import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from tasks.wirecopy import (
    BANDS,
    MIN_TOKENS,
    THRESHOLD,
    FingerprintedArticle,
    StoredArticle,
    assign_stories,
    band_keys,
    fingerprint,
    group_stories,
    similarity,
    tokenize,
)

T0 = datetime(2024, 10, 29, 9, 0, tzinfo=UTC)

WIRE = """Brüssel (dpa) - Die Nato-Staaten wollen ihre Luftverteidigung an der Ostflanke deutlich verstärken. Generalsekretär Mark Rutte kündigte am Dienstag nach einem Treffen der Verteidigungsminister in Brüssel an, dass zusätzliche Patriot-Systeme nach Polen und Litauen verlegt werden sollen. «Wir werden jeden Zentimeter des Bündnisgebiets verteidigen», sagte Rutte.

Nach Angaben von Diplomaten geht es um mindestens sechs weitere Feuereinheiten, die bis zum Frühjahr einsatzbereit sein sollen. Deutschland und die Niederlande wollen dafür Personal stellen. Bundesverteidigungsminister Boris Pistorius sprach von einem «klaren Signal an Moskau».

Streit um die Finanzierung

Offen blieb zunächst, wer die Kosten von mehreren Milliarden Euro trägt. Mehrere südeuropäische Staaten dringen auf eine gemeinsame Finanzierung über den Nato-Haushalt, während Washington auf höhere nationale Ausgaben pocht. Rutte räumte ein, die Gespräche seien «nicht einfach» gewesen.

Hintergrund der Pläne sind wiederholte Verletzungen des Luftraums durch russische Drohnen in den vergangenen Wochen. In Polen waren Trümmerteile auf einem Acker nahe der Grenze zu Belarus gefunden worden. Die Regierung in Warschau hatte daraufhin Konsultationen nach Artikel 4 des Nordatlantikvertrags beantragt.

Die Verteidigungsminister wollen im Februar erneut zusammenkommen. Bis dahin soll ein Finanzierungsplan vorliegen, wie es aus Bündniskreisen hieß."""

# Another agency at the same press conference: same names, places, numbers and one identical quote,
# sentences of its own.
RIVAL = """Brüssel (AFP) – Angesichts russischer Drohnenflüge über Polen schickt die Nato weitere Flugabwehrsysteme an ihre Ostflanke. Bei dem Treffen der Verteidigungsminister in Brüssel einigten sich die Bündnispartner nach Angaben von Generalsekretär Mark Rutte auf die Verlegung zusätzlicher Patriot-Batterien nach Polen und Litauen. «Wir werden jeden Zentimeter des Bündnisgebiets verteidigen», sagte der Niederländer.

Der deutsche Verteidigungsminister Boris Pistorius begrüßte die Entscheidung. Die Bundeswehr werde sich mit Soldaten an dem Einsatz beteiligen, kündigte der SPD-Politiker an. Wie viele Soldaten es sein werden, ließ er offen.

Umstritten ist weiterhin die Finanzierung. Italien und Spanien fordern, die Kosten aus dem gemeinsamen Haushalt des Bündnisses zu bezahlen. Die USA lehnen das ab und verlangen, dass jedes Land selbst mehr Geld für seine Verteidigung ausgibt.

Polen hatte vor zwei Wochen Beratungen nach Artikel 4 des Nato-Vertrags beantragt, nachdem Trümmer einer russischen Drohne in der Nähe der Grenze zu Belarus entdeckt worden waren. Moskau bestreitet, den Luftraum des Bündnisses verletzt zu haben."""

PARAGRAPHS = WIRE.split("\n\n")

VARIANTS = {
    "new headline": "Nato verlegt Patriot-Raketen an die Ostflanke\n\n" + WIRE,
    "cut last paragraph": "\n\n".join(PARAGRAPHS[:-1]),
    "added caption": PARAGRAPHS[0]
    + "\n\nMark Rutte am Dienstag im Nato-Hauptquartier. Foto: Virginia Mayo/AP/dpa\n\n"
    + "\n\n".join(PARAGRAPHS[1:]),
    "quote marks „“": WIRE.replace("«", "„").replace("»", "“"),
    'quote marks ""': WIRE.replace("«", '"').replace("»", '"'),
    "typo fixed": WIRE.replace("Diplomaten", "Diplomatn").replace("Acker", "Ackr"),
    "other template": "Politik > Ausland\n\n"
    + WIRE
    + "\n\nMehr zum Thema: Pistorius besucht Litauen-Brigade\n\n© dpa-infocom, dpa:241029-930-272180/3",
    "whitespace": WIRE.replace(". ", ".  ").replace("\n\n", "\n \n\n"),
    "Swiss spelling": WIRE.replace("ß", "ss"),
    "sub-heading dropped, two paragraphs cut": "\n\n".join(
        p for p in PARAGRAPHS[:-2] if p != "Streit um die Finanzierung"
    ),
}


def record(url, text, hours=0.0):
    return FingerprintedArticle(url, T0 + timedelta(hours=hours), fingerprint(text))


# --------------------------------------------------------------------------- fingerprints


def test_tokens_ignore_case_quote_marks_punctuation_and_whitespace():
    assert tokenize("«Wir»  werden,\n„JEDEN“ Zentimeter!") == ["wir", "werden", "jeden", "zentimeter"]
    assert tokenize("Straße") == tokenize("STRASSE") == ["strasse"]


def test_japanese_is_tokenised_by_character():
    assert tokenize("能登半島地震") == ["能", "登", "半", "島", "地", "震"]


def test_texts_too_short_to_judge_get_no_fingerprint():
    assert fingerprint(None) is None
    assert fingerprint("") is None
    assert fingerprint(" ".join(["wort"] * (MIN_TOKENS - 1))) is None
    assert fingerprint(" ".join(f"wort{i}" for i in range(MIN_TOKENS))) is not None


def test_fingerprint_is_compact_and_stable_across_processes_and_versions():
    fp = fingerprint(WIRE)
    assert fp is not None and len(fp) == 520
    assert fingerprint(WIRE) == fp
    # Stored fingerprints are compared with new ones for years: the bytes must never change silently.
    # A deliberate change of the algorithm bumps the format version and rebuilds, and updates this.
    assert hashlib.sha256(fp).hexdigest() == GOLDEN_SHA256


GOLDEN_SHA256 = "befc9ffe4394a8ab13777e7d36ade59dc6c7a7ef2f54919864ac7b3c09ebea1d"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_outlet_variants_of_the_wire_text_are_the_same_story(name):
    variant = fingerprint(VARIANTS[name])
    original = fingerprint(WIRE)
    assert variant is not None and original is not None
    assert similarity(original, variant) >= THRESHOLD
    stories = group_stories(
        [record("https://a.example/1", WIRE), record("https://b.example/2", VARIANTS[name], 3)]
    )
    assert stories == {
        "https://a.example/1": "https://a.example/1",
        "https://b.example/2": "https://a.example/1",
    }


def test_a_distinct_report_on_the_same_event_is_another_story():
    original, rival = fingerprint(WIRE), fingerprint(RIVAL)
    assert original is not None and rival is not None
    assert similarity(original, rival) < THRESHOLD / 2
    stories = group_stories([record("https://a.example/1", WIRE), record("https://c.example/9", RIVAL, 0.5)])
    assert stories == {
        "https://a.example/1": "https://a.example/1",
        "https://c.example/9": "https://c.example/9",
    }


def test_copies_share_a_band_key_and_distinct_reports_do_not():
    keys = set(band_keys(fingerprint(WIRE)))
    assert len(band_keys(fingerprint(WIRE))) == BANDS
    assert keys & set(band_keys(fingerprint(VARIANTS["cut last paragraph"])))
    assert not keys & set(band_keys(fingerprint(RIVAL)))
    assert band_keys(None) == []


def test_a_malformed_fingerprint_is_refused():
    with pytest.raises(ValueError):
        similarity(b"\x01" * 12, fingerprint(WIRE) or b"")


# --------------------------------------------------------------------------- grouping


def test_the_earliest_article_names_the_story_and_ties_go_to_the_smaller_url():
    records = [
        record("https://b.example/copy", VARIANTS["new headline"], 5),
        record("https://z.example/first", VARIANTS["other template"], -2),
        record("https://a.example/also-first", VARIANTS["added caption"], -2),
        record("https://c.example/rival", RIVAL, -3),
    ]
    stories = group_stories(records)
    assert stories["https://b.example/copy"] == "https://a.example/also-first"
    assert stories["https://z.example/first"] == "https://a.example/also-first"
    assert stories["https://a.example/also-first"] == "https://a.example/also-first"
    assert stories["https://c.example/rival"] == "https://c.example/rival"


def test_articles_without_fingerprint_stay_alone():
    records = [record("https://a.example/1", WIRE), FingerprintedArticle("https://b.example/2", T0, None)]
    assert group_stories(records)["https://b.example/2"] == "https://b.example/2"


def test_copies_further_apart_than_the_window_are_not_linked():
    records = [record("https://a.example/1", WIRE), record("https://b.example/2", WIRE, 24 * 30)]
    assert len(set(group_stories(records).values())) == 2
    assert len(set(group_stories(records, window=None).values())) == 1


def test_grouping_does_not_depend_on_input_order():
    records = [
        record(f"https://x{i}.example/a", text, i) for i, text in enumerate([WIRE, RIVAL, *VARIANTS.values()])
    ]
    assert group_stories(records) == group_stories(list(reversed(records)))


def test_an_earlier_article_arriving_later_renames_the_stored_story():
    stored = [
        StoredArticle("https://b.example/2", T0, fingerprint(WIRE), "https://b.example/2", T0),
        StoredArticle(
            "https://c.example/3",
            T0 + timedelta(hours=1),
            fingerprint(VARIANTS["whitespace"]),
            "https://b.example/2",
            T0,
        ),
    ]
    batch = [record("https://a.example/1", VARIANTS["cut last paragraph"], -1)]
    result = assign_stories(batch, stored)
    assert result.story_ids == {"https://a.example/1": "https://a.example/1"}
    assert result.renamed == {"https://b.example/2": "https://a.example/1"}


def test_a_later_copy_joins_the_stored_story_without_renames():
    stored = [StoredArticle("https://b.example/2", T0, fingerprint(WIRE), "https://b.example/2", T0)]
    result = assign_stories([record("https://a.example/1", VARIANTS["added caption"], 2)], stored)
    assert result.story_ids == {"https://a.example/1": "https://b.example/2"}
    assert result.renamed == {}


def test_a_new_article_bridging_two_stored_stories_merges_them_under_the_earliest():
    first_half, second_half = "\n\n".join(PARAGRAPHS[:3]), "\n\n".join(PARAGRAPHS[3:])
    assert similarity(fingerprint(first_half) or b"", fingerprint(second_half) or b"") < 0.1
    stored = [
        StoredArticle("https://a.example/1", T0, fingerprint(first_half), "https://a.example/1", T0),
        StoredArticle(
            "https://b.example/2",
            T0 + timedelta(hours=1),
            fingerprint(second_half),
            "https://b.example/2",
            T0 + timedelta(hours=1),
        ),
    ]
    result = assign_stories([record("https://c.example/3", WIRE, 2)], stored)
    assert result.story_ids == {"https://c.example/3": "https://a.example/1"}
    assert result.renamed == {"https://b.example/2": "https://a.example/1"}


def test_a_stored_row_is_replaced_by_the_same_url_in_the_batch():
    stored = [StoredArticle("https://a.example/1", T0, None, "https://a.example/1", T0)]
    result = assign_stories([record("https://a.example/1", WIRE, 1)], stored)
    assert result.story_ids == {"https://a.example/1": "https://a.example/1"}
    assert result.renamed == {}


def load_incrementally(records, batch_size):
    """A minimal loader: band keys in a dict, candidates by shared key, renames applied to stored rows."""
    keys, stored, story_of = {}, {}, {}
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        hits = {url for r in batch for key in band_keys(r.fingerprint) for url in keys.get(key, ())}
        candidates = [
            StoredArticle(
                u, stored[u].seen_at, stored[u].fingerprint, story_of[u], stored[story_of[u]].seen_at
            )
            for u in sorted(hits)
        ]
        result = assign_stories(batch, candidates)
        for url, story in story_of.items():
            story_of[url] = result.renamed.get(story, story)
        for r in batch:
            stored[r.url] = r
            story_of[r.url] = result.story_ids[r.url]
            for key in band_keys(r.fingerprint):
                keys.setdefault(key, []).append(r.url)
    return story_of


def test_loading_batch_after_batch_gives_the_stories_of_one_full_grouping():
    texts = [WIRE, RIVAL, *VARIANTS.values(), "\n\n".join(PARAGRAPHS[:3]), "\n\n".join(PARAGRAPHS[3:])]
    # Arrival order differs from publication order, so earlier articles arrive late and rename stories.
    records = [record(f"https://x{i}.example/a", text, hours=(i * 7) % 11) for i, text in enumerate(texts)]
    expected = group_stories(records)
    assert len(set(expected.values())) == 2
    for batch_size in (1, 2, 5, len(records)):
        assert load_incrementally(records, batch_size) == expected
