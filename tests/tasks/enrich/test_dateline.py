import pytest

from tasks.enrich.dateline import (
    agencies_in_credit,
    closing_credits,
    enrich,
    normalise_place,
    parse_agency_group,
    parse_dateline,
)
from tests.support.factories import make_article


def article(text, authors=(), agencies=()):
    return make_article(text, authors=authors, agencies=agencies)


# (start of body, expected dateline_place, expected agencies); the sentences are made up.
DATELINES = [
    # German
    ("Brüssel (dpa) - Die Außenminister beraten heute.", "Brüssel", ("dpa",)),
    ("Kiew/Moskau (dpa/AFP) - Beide Seiten melden Angriffe.", "Kiew/Moskau", ("dpa", "afp")),
    ("Frankfurt/Main (dpa/lhe) – Der Flughafen meldet Rekorde.", "Frankfurt/Main", ("dpa",)),
    ("Düsseldorf (dpa/lnw) - Im Landtag wird gestritten.", "Düsseldorf", ("dpa",)),
    ("München (dpa/lby) - Auf der Wiesn ist es voll.", "München", ("dpa",)),
    ("(dpa/lnw) - Ein Unfall sorgt für Stau auf der A1.", None, ("dpa",)),
    ("Hamburg (dpa-AFX) - Die Aktie legte zu.", "Hamburg", ("dpa-afx",)),
    ("(dpa-AFX) Die Börse schloss freundlich.", None, ("dpa-afx",)),
    ("FRANKFURT (dpa-AFX) - Der Dax stieg am Vormittag.", "Frankfurt", ("dpa-afx",)),
    ("Rom (KNA) Papst Leo empfängt Pilger.", "Rom", ("kna",)),
    ("Frankfurt am Main (epd) - Die Kirche lädt ein.", "Frankfurt am Main", ("epd",)),
    ("Freiburg i.Br. (KNA) - Der Katholikentag beginnt.", "Freiburg i.Br.", ("kna",)),
    ("Halle (Saale) (dpa/sa) - Die Stadt feiert.", "Halle (Saale)", ("dpa",)),
    ("Wien (APA) - Die Regierung tagt.", "Wien", ("apa",)),
    ("Bern (sda) - Der Bundesrat entscheidet.", "Bern", ("sda",)),
    ("Zürich (Keystone-SDA) - Die Bank meldet Gewinn.", "Zürich", ("sda",)),
    ("Köln (SID) - Der Verein entlässt den Trainer.", "Köln", ("sid",)),
    ("Berlin (dts Nachrichtenagentur) - Die Umfrage sieht die Union vorn.", "Berlin", ("dts",)),
    ("Washington/Berlin (AFP) - Die Gespräche laufen.", "Washington/Berlin", ("afp",)),
    ("Tel Aviv/Gaza (dpa) – Die Lage bleibt angespannt.", "Tel Aviv/Gaza", ("dpa",)),
    ("Berlin (AFP/dpa) - Der Bundestag stimmt ab.", "Berlin", ("afp", "dpa")),
    ("Paris, 12. März (AFP) - Die Regierung kündigt Reformen an.", "Paris", ("afp",)),
    ("Mainz (dpa/lrs) - Die Polizei warnt vor Glätte.", "Mainz", ("dpa",)),
    ("BERLIN (Reuters) - Die Bundesregierung plant Entlastungen.", "Berlin", ("reuters",)),
    # English
    ("WASHINGTON (AP) — The Senate passed the bill.", "Washington", ("ap",)),
    ("NEW YORK, March 3 (Reuters) - Stocks rose on Monday.", "New York", ("reuters",)),
    ("LONDON (Reuters) - The pound fell.", "London", ("reuters",)),
    ("KYIV, Ukraine (AP) — Air raid sirens sounded overnight.", "Kyiv, Ukraine", ("ap",)),
    ("SPRINGFIELD, Ill. (AP) — Lawmakers met late.", "Springfield, Ill.", ("ap",)),
    ("ST. LOUIS (AP) — The team won again.", "St. Louis", ("ap",)),
    ("WASHINGTON, D.C. (UPI) -- The agency said.", "Washington, D.C.", ("upi",)),
    ("BEIJING, March 3 (Xinhua) -- Officials met.", "Beijing", ("xinhua",)),
    ("TOKYO (Kyodo) -- The yen weakened.", "Tokyo", ("kyodo",)),
    ("SYDNEY, March 3, 2025 (AAP) - Rain is forecast.", "Sydney", ("aap",)),
    ("RIO DE JANEIRO (Reuters) - Carnival began.", "Rio de Janeiro", ("reuters",)),
    ("WASHINGTON — The White House said on Tuesday.", "Washington", ()),
    ("LOS ANGELES — Fires spread overnight.", "Los Angeles", ()),
    ("BADEN-BADEN - Das Festspielhaus ist ausverkauft.", "Baden-Baden", ()),
    # French
    ("Paris (AFP) - Le gouvernement a annoncé.", "Paris", ("afp",)),
    ("Paris, 12 mars 2025 (AFP) - Les syndicats appellent à la grève.", "Paris", ("afp",)),
    ("BRUXELLES, 3 mars (Reuters) - La Commission propose.", "Bruxelles", ("reuters",)),
    ("Genève (ATS) - Le Conseil fédéral décide.", "Genève", ("sda",)),
    ("AIX-EN-PROVENCE (AFP) - Le festival s'ouvre.", "Aix-en-Provence", ("afp",)),
    ("(Belga) Le gouvernement fédéral se réunit.", None, ("belga",)),
    # Spanish
    ("MADRID, 3 Mar (EFE).- El Gobierno aprobó el plan.", "Madrid", ("efe",)),
    ("Ciudad de México, 3 mar (EFE).– El presidente habló.", "Ciudad de México", ("efe",)),
    ("MADRID, 3 Mar. (EUROPA PRESS) - El Congreso debate.", "Madrid", ("europapress",)),
    ("Buenos Aires, 3 de marzo (EFE).- La inflación bajó.", "Buenos Aires", ("efe",)),
    # Italian
    ("ROMA (ANSA) - Il governo ha approvato.", "Roma", ("ansa",)),
    ("(ANSA) - ROMA, 12 MAR - Il presidente ha parlato.", "Roma", ("ansa",)),
    ("L'AQUILA (ANSA) - La città ricorda.", "L'Aquila", ("ansa",)),
    ("MILANO, 3 mar (Reuters) - Piazza Affari apre in rialzo.", "Milano", ("reuters",)),
    # Dutch, Portuguese
    ("DEN HAAG (ANP) - Het kabinet besluit.", "Den Haag", ("anp",)),
    ("Lisboa, 3 mar (Lusa) - O Governo aprovou.", "Lisboa", ("lusa",)),
    # press release: the place is a dateline, the wire is no agency
    ("Berlin (ots) - Die Stiftung vergibt ihren Preis.", "Berlin", ()),
]


@pytest.mark.parametrize(("text", "place", "agencies"), DATELINES)
def test_datelines(text, place, agencies):
    dateline = parse_dateline(text)
    assert dateline is not None
    assert (dateline.place, dateline.agencies) == (place, agencies)


def test_table_is_large_enough():
    assert len(DATELINES) >= 40


@pytest.mark.parametrize(
    "text",
    [
        "Die Firma (gegründet 1990) - heute ein Weltkonzern - meldet Verluste.",
        "Apple (AAPL) stock rose 3 percent on Tuesday.",
        "Tesla (TSLA.O) shares fell in early trading.",
        "Kanzler Merz (CDU) - so heißt es in Berlin - will reden.",
        "Schmidt (SPD) sagte am Montag, man werde prüfen.",
        "The Associated Press (AP) reported the results first.",
        "Laut dpa (dpa) sagte der Minister nichts.",
        "Berlin – Die Regierung hat beschlossen, die Steuer zu senken.",
        "Gestern – so hieß es – sei alles ruhig gewesen.",
        "UPDATE — The story has been corrected.",
        "NATO — the alliance — met in Brussels.",
        "BREAKING NEWS — Markets fall sharply.",
        "Der Verband (VDA) - Lobby der Autoindustrie - warnt.",
        "Obama (AP Photo/Evan Vucci) — the former president spoke.",
        "Sid (Reuters) hat gesagt, dass alles gut wird.",
        "EXKLUSIV - Was die Ministerin wirklich plant.",
        "",
        None,
    ],
)
def test_no_dateline(text):
    assert parse_dateline(text) is None


def test_dateline_after_teaser_line_and_byline():
    text = "Von Anna Beispiel, dpa\n\nBerlin (dpa) - Die Koalition streitet weiter.\n\nMehr folgt."
    dateline = parse_dateline(text)
    assert dateline is not None and dateline.place == "Berlin" and dateline.agencies == ("dpa",)
    teaser = "Neue Regeln für E-Scooter\nHamburg (dpa) - Der Senat beschließt ein Verbot."
    assert parse_dateline(teaser).place == "Hamburg"


def test_kicker_before_a_credit_is_no_place():
    dateline = parse_dateline("EXKLUSIV (dpa) - Die Ministerin plant eine Reform.")
    assert dateline is not None and (dateline.place, dateline.agencies) == (None, ("dpa",))


def test_byline_alone_gives_agencies():
    dateline = parse_dateline("By JANE ROE Associated Press\nThe storm moved east on Sunday.")
    assert dateline is not None and dateline.place is None and dateline.agencies == ("ap",)


@pytest.mark.parametrize(
    ("group", "agencies"),
    [
        ("dpa/lnw", ("dpa",)),
        ("AFP/jm", ("afp",)),
        ("jm/dpa", ("dpa",)),
        ("Reuters, AFP", ("reuters", "afp")),
        ("dpa und AFP", ("dpa", "afp")),
        ("ots", ()),
        ("AAPL", None),
        ("gegründet 1990", None),
        ("lnw", None),
    ],
)
def test_agency_group(group, agencies):
    assert parse_agency_group(group) == agencies


@pytest.mark.parametrize(
    ("credit", "agencies"),
    [
        ("dpa", ("dpa",)),
        ("Quelle: dpa", ("dpa",)),
        ("Anna Beispiel, dpa", ("dpa",)),
        ("Max Muster (AFP)", ("afp",)),
        ("Reuters Staff", ("reuters",)),
        ("The Associated Press", ("ap",)),
        ("dpa-infocom GmbH", ("dpa",)),
        ("Sid Lowe", ()),
        ("Efe Kaya", ()),
        ("Dpa", ("dpa",)),
        ("Anna Beispiel", ()),
    ],
)
def test_agencies_in_credit(credit, agencies):
    assert agencies_in_credit(credit) == agencies


@pytest.mark.parametrize(
    ("ending", "agencies"),
    [
        ("Der Gipfel endet am Freitag.\n(dpa)", ("dpa",)),
        ("Der Gipfel endet am Freitag. (AFP)", ("afp",)),
        ("Der Gipfel endet am Freitag.\njm/dpa", ("dpa",)),
        ("Der Gipfel endet am Freitag.\n© dpa", ("dpa",)),
        ("Der Gipfel endet am Freitag.\n© 2025 AFP", ("afp",)),
        ("Der Gipfel endet am Freitag.\nMit Material von Reuters und AFP", ("reuters", "afp")),
        ("Der Gipfel endet am Freitag.\nQuellen: dpa, KNA", ("dpa", "kna")),
        ("The summit ends on Friday.\nCopyright 2025 The Associated Press. All rights reserved.", ("ap",)),
        ("Der Gipfel endet am Freitag.\ndpa-infocom, dpa:250303-930-123456/2", ("dpa",)),
        # an agency named as the source of a statement is not a credit of the article
        ("Das berichtete die Nachrichtenagentur AFP am Abend.", ()),
        ("Der Minister (CDU)", ()),
        ("Das sagte ein Sprecher der Agentur Associated Press (AP).", ()),
        ("", ()),
    ],
)
def test_closing_credits(ending, agencies):
    assert closing_credits("Berlin - Ein Absatz.\n\n" + ending) == agencies


@pytest.mark.parametrize(
    ("place", "normalised"),
    [
        ("BERLIN", "Berlin"),
        ("NEW YORK", "New York"),
        ("FRANKFURT AM MAIN", "Frankfurt am Main"),
        ("KIEW/MOSKAU", "Kiew/Moskau"),
        ("D.C.", "D.C."),
        ("N'DJAMENA", "N'Djamena"),
        ("Kiew/Moskau", "Kiew/Moskau"),
        ("McAllen", "McAllen"),
    ],
)
def test_normalise_place(place, normalised):
    assert normalise_place(place) == normalised


def test_enrich_merges_agencies_in_order_and_keeps_text():
    text = "Kiew/Moskau (dpa/AFP) - Beide Seiten melden Angriffe.\n\nMehr dazu später.\n\nMit Material von Reuters"
    source = article(text, authors=("Anna Beispiel", "AFP", "KNA"), agencies=("epd", "dpa"))
    enriched = enrich(source)
    assert enriched.dateline_place == "Kiew/Moskau"
    assert enriched.agencies == ("epd", "dpa", "afp", "kna", "reuters")
    assert enriched.text == text


def test_enrich_without_dateline_leaves_fields():
    enriched = enrich(
        article("Ein ganz gewöhnlicher erster Satz ohne Ortsmarke.", authors=("Anna Beispiel",))
    )
    assert enriched.dateline_place is None and enriched.agencies == ()
    assert enrich(article(None)).agencies == ()
