"""Headlines."""

import pytest

from tasks.metadata import (
    choose_title,
    clean_title,
    host_names,
    read_metadata,
    visible_headline,
)
from tests.tasks.metadata import FETCHED, tree


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hafen wird ausgebaggert | hafenblatt.example", "Hafen wird ausgebaggert"),
        ("Hafen wird ausgebaggert – Hafenblatt – 04.03.2025", "Hafen wird ausgebaggert"),
        ("HAFENBLATT - Hafen wird ausgebaggert", "Hafen wird ausgebaggert"),
        ("Bagger im Hafen：ハーフェン新聞", "Bagger im Hafen"),
        ("Streit um Nord-Süd-Trasse - was nun?", "Streit um Nord-Süd-Trasse - was nun?"),
        ("  Zu   viel\u3000Raum  ", "Zu viel Raum"),
    ],
)
def test_clean_title_drops_site_names_and_dates_only(raw, expected):
    names = ["Hafenblatt", "ハーフェン新聞", *host_names("https://www.hafenblatt.example/x")]
    assert clean_title(raw, names) == expected


def test_a_label_another_title_leaves_out_is_dropped_from_the_end():
    head = """<meta property="og:title" content="Leuchtturm wird neu gestrichen">
    <title>Leuchtturm wird neu gestrichen | Region | Seeblick</title>
    <meta property="og:site_name" content="Seeblick">
    <script type="application/ld+json">{"@type": "NewsArticle",
      "headline": "Leuchtturm wird neu gestrichen | Region"}</script>"""
    stated = read_metadata(tree(head), "https://seeblick.example/leuchtturm", FETCHED)
    assert stated.title == "Leuchtturm wird neu gestrichen"
    # The visible headline also tells: the slogan after the dash is not the site's name, yet not news either.
    slogan = tree(
        "<title>Kutter läuft aus – Die freundliche Zeitung vom Deich</title>", "<h1>Kutter läuft aus</h1>"
    )
    assert read_metadata(slogan, "https://deichblatt.example/a", FETCHED).title == "Kutter läuft aus"


def test_choose_title_keeps_what_no_other_source_contradicts():
    assert choose_title([None, "Ebbe und Flut - ein Vergleich"]) == "Ebbe und Flut - ein Vergleich"
    # A one-word heading ("Wetter") is a section, not a shorter statement of the headline.
    assert choose_title(["Wetter - Sturm zieht auf"], shown=["Wetter"]) == "Wetter - Sturm zieht auf"
    # Glued section labels go too, when a headline meta tag states the headline without them.
    assert choose_title(["항구 확장 공사 시작-경제", "항구 확장 공사 시작"]) == "항구 확장 공사 시작"
    assert choose_title([]) is None


def test_a_kicker_the_shared_title_leaves_out_is_dropped():
    stated = ["Ärger im Hafen: Fähre fällt wieder aus", "Fähre fällt wieder aus"]
    assert choose_title(stated, shared=["Fähre fällt wieder aus"]) == "Fähre fällt wieder aus"
    # Without a shared title that leaves it out, the kicker stays.
    assert choose_title(stated[:1], shown=["Fähre fällt wieder aus"]) == stated[0]


def test_a_headline_meta_tag_comes_right_after_jsonld():
    head = """<meta name="headline" content="Neue Brücke über die Förde">
    <meta property="og:title" content="Neue Brücke über die Förde-Verkehr">"""
    assert (
        read_metadata(tree(head), "https://foerde.example/a", FETCHED).title == "Neue Brücke über die Förde"
    )


def test_a_title_opening_with_an_ellipsis_is_a_fragment_and_gives_way():
    head = """<meta itemprop="headline" content="… anglers worried">
    <title>Harbour dredging plan approved - Seeblick</title><meta property="og:site_name" content="Seeblick">"""
    body = "<h1>… anglers worried</h1><p>Text.</p>"
    stated = read_metadata(tree(head, body), "https://seeblick.example/dredging", FETCHED)
    assert stated.title == "Harbour dredging plan approved"
    assert choose_title(["… nur ein Rest"]) == "… nur ein Rest"  # nothing better: kept


def test_the_visible_headline_wins_where_a_stated_title_confirms_it():
    head = """<script type="application/ld+json">{"@type": "NewsArticle",
      "headline": "Fährverkehr: Warum die Linie nach Amrum im Winter ruht und was Pendler tun"}</script>
    <meta property="og:title" content="Fähre nach Amrum fährt im Winter seltener">"""
    body = "<h1>Fähre nach Amrum fährt im Winter seltener</h1><p>Text.</p>"
    stated = read_metadata(tree(head, body), "https://inselbote.example/faehre", FETCHED)
    assert stated.title == "Fähre nach Amrum fährt im Winter seltener"
    assert stated.seo_title == "Fährverkehr: Warum die Linie nach Amrum im Winter ruht und was Pendler tun"


def test_an_unconfirmed_h1_and_navigation_headings_do_not_replace_the_stated_title():
    head = '<meta property="og:title" content="Deichbau beginnt im März">'
    # An <h1> no stated title confirms may be a kicker or a teaser: the stated title stays, no seo_title.
    kicker = read_metadata(tree(head, "<h1>Küstenschutz</h1><p>Text.</p>"), "https://k.example/a", FETCHED)
    assert (kicker.title, kicker.seo_title) == ("Deichbau beginnt im März", None)
    # A breadcrumb's <h1> is furniture; the headline the article's header shows counts instead.
    body = """<nav><ul><li><h1 class="crumb-title">Deichbau: alles zum Projekt</h1></li></ul></nav>
    <article><header><h2>Deichbau beginnt im März</h2></header><p>Text.</p></article>"""
    head2 = head + '<meta name="twitter:title" content="Deichbau: alles zum Projekt">'
    assert visible_headline(tree(head2, body)) == "Deichbau beginnt im März"
    crumb = (
        '<div class="breadcrumb"><h1>Deichbau: alles zum Projekt</h1></div><h1>Deichbau beginnt im März</h1>'
    )
    assert visible_headline(tree(head, crumb)) == "Deichbau beginnt im März"
