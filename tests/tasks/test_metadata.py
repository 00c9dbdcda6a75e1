from datetime import UTC, datetime, timedelta, timezone

import pytest
from trafilatura.utils import load_html

from tasks.metadata import (
    choose_datetime,
    choose_title,
    clean_title,
    host_names,
    is_site_name,
    jsonld_objects,
    main_article,
    parse_datetime,
    parse_day_first,
    read_metadata,
    split_byline,
)

FETCHED = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def tree(head: str, body: str = "<p>Text.</p>"):
    return load_html(f"<html lang='de'><head>{head}</head><body>{body}</body></html>")


GRAPH_PAGE = """
<title>Deich bei Husum hält dem Sturm stand | Küstenbote</title>
<meta property="og:site_name" content="Küstenbote">
<meta property="og:title" content="Sturmflut: Deich hält | Küstenbote">
<meta property="article:published_time" content="2025-03-04T09:00:00+01:00">
<meta name="author" content="Küstenbote">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "Küstenbote"},
  {"@type": "BreadcrumbList", "itemListElement": []},
  {"@type": ["ReportageNewsArticle"], "headline": "Deich bei Husum h&auml;lt dem Sturm stand",
   "datePublished": "2025-03-04T08:30:00+01:00", "dateModified": "2025-03-04T10:15:00+01:00",
   "inLanguage": "de-DE", "isAccessibleForFree": "False",
   "author": [{"@type": "Person", "name": "Tjark Ohlsen"}, {"@type": "Organization", "name": "dpa"}],
   "publisher": {"@type": "NewsMediaOrganization", "name": "Küstenbote"},
   "articleBody": "Der Deich hielt. Die Pegel sanken am Morgen."}
]}
</script>
"""


def test_read_metadata_prefers_the_jsonld_article_inside_a_graph():
    stated = read_metadata(tree(GRAPH_PAGE), "https://www.kuestenbote.example/deich.html", FETCHED)
    assert stated.title == "Deich bei Husum hält dem Sturm stand"
    assert stated.authors == ("Tjark Ohlsen",)
    assert stated.agencies == ("dpa",)
    assert stated.published_at == datetime(2025, 3, 4, 8, 30, tzinfo=CET)
    assert stated.published_at.utcoffset() == timedelta(hours=1)  # the page's own offset, not UTC
    assert stated.modified_at == datetime(2025, 3, 4, 10, 15, tzinfo=CET)
    assert stated.declared_language == "de"
    assert stated.paywalled is True
    assert stated.site_name == "Küstenbote"
    assert stated.article_body.startswith("Der Deich hielt.")


def test_meta_tags_stand_in_where_there_is_no_jsonld():
    head = """
    <meta property="og:title" content="SEEBLICK - Fähre fällt wegen Nebel aus">
    <meta property="og:site_name" content="Seeblick">
    <meta name="author" content="Von Ina Berg und Ole Friis">
    <meta name="date" content="2025-03-03T18:20:00+01:00">
    """
    stated = read_metadata(tree(head), "https://seeblick.example/faehre", FETCHED)
    assert stated.title == "Fähre fällt wegen Nebel aus"
    assert stated.authors == ("Ina Berg", "Ole Friis")
    assert stated.published_at == datetime(2025, 3, 3, 18, 20, tzinfo=CET)


def test_broken_jsonld_is_skipped_and_lists_are_flattened():
    head = """
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>
    <script type="application/ld+json">[{"@type": "Organization", "name": "X"},
      {"@type": "NewsArticle", "headline": "Zweiter Versuch", "url": "https://a.example/b"}]</script>
    """
    objects = jsonld_objects(tree(head))
    assert [o["@type"] for o in objects] == ["Organization", "NewsArticle"]
    assert main_article(objects, "https://a.example/b/")["headline"] == "Zweiter Versuch"


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


def test_site_names_match_across_spelling_of_hosts():
    assert is_site_name("Börsen-Blatt", ["boersen-blatt.example"])
    assert is_site_name("WATT.de", ["watt.de"])
    assert not is_site_name("Wattenmeer bleibt Weltnaturerbe", ["watt.de"])
    assert host_names("https://news.kaiyo.co.jp/a") == ["news.kaiyo.co.jp", "kaiyo.co.jp", "kaiyo"]


@pytest.mark.parametrize(
    ("byline", "authors", "agencies"),
    [
        ("Von Mara Lind, Jo Brandt und Eda Yilmaz", ["Mara Lind", "Jo Brandt", "Eda Yilmaz"], []),
        ("By Sam Okafor and Lee Chan", ["Sam Okafor", "Lee Chan"], []),
        ("Pia Sommer/dpa", ["Pia Sommer"], ["dpa"]),
        ("Autor: Tim Roth (tim.roth@paper.example)", ["Tim Roth"], []),
        ("Redaktion Seeblick", [], []),
        ("AFP", [], ["afp"]),
        ("Dpa", [], ["dpa"]),  # trafilatura title-cases bylines
        ("Deutsche Presse-Agentur", [], ["dpa"]),
        ("Kai Lenz, dpa-AFX", ["Kai Lenz"], ["dpa-afx"]),  # dpa's financial wire keeps its own code
        ("ots", [], []),  # a press-release wire is neither agency nor person
        ("Rubrik Von Uta Kern", ["Uta Kern"], []),
        ("Ursula von der Leyen", ["Ursula von der Leyen"], []),
        ("https://social.example/seeblick", [], []),
        ("12.03.2025", [], []),
        ("김민수 기자", ["김민수"], []),
    ],
)
def test_split_byline(byline, authors, agencies):
    assert split_byline(byline, ["Seeblick"]) == (authors, agencies)


def test_single_words_are_names_only_where_a_person_is_declared():
    assert split_byline("Hamburg, Germany") == ([], [])
    assert split_byline("ssi", single_word=True) == (["ssi"], [])


def test_organisation_authors_are_never_people_and_site_bylines_are_dropped():
    head = """<meta property="og:site_name" content="Seeblick">
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": "Ebbe",
      "author": {"@type": "Organization", "name": "Seeblick Online"}}</script>"""
    stated = read_metadata(tree(head), "https://seeblick.example/ebbe", FETCHED)
    assert stated.authors == ()
    assert stated.agencies == ()


def test_byline_markup_is_read_outside_teasers():
    body = """<article><p class="byline">von <a href="/autoren/ina-berg">Ina Berg</a></p><p>Text.</p></article>
    <aside><a href="/autoren/max-muster">Max Muster</a></aside>
    <div class="teaser-list"><a rel="author" href="/x">Kai Teaser</a></div>"""
    stated = read_metadata(tree("", body), "https://seeblick.example/a", FETCHED)
    assert stated.authors == ()  # byline markup is a lower source, read by the caller after the feed
    assert stated.byline_authors == ("Ina Berg",)


def test_dates_keep_the_page_offset_and_never_lie_in_the_future():
    naive = parse_datetime("2025-03-04 09:00:00")
    aware = parse_datetime("2025-03-04T09:00:00+01:00")
    assert choose_datetime([naive, aware], FETCHED) == aware  # the naive one takes the stated offset
    assert choose_datetime([parse_datetime("2025-03-05T09:00:00+01:00"), aware], FETCHED) == aware
    assert choose_datetime([FETCHED - timedelta(seconds=5)], FETCHED) is None  # the page's render time
    assert parse_datetime("Tue, 04 Mar 2025 09:00:00 +0100") == aware
    assert parse_datetime("2025-03-04T08:00:00Z") == aware
    assert parse_datetime("gestern") is None


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


def test_labelled_fields_give_author_and_date():
    body = """<article><p>Text.</p><ul class="facts">
      <li><strong>Datum</strong> 03.03.2025</li><li><strong>Autorin/Autor</strong> Jana Lorenz</li></ul>
      <dl><dt>Author</dt><dd>Kim Reyes</dd></dl></article>"""
    stated = read_metadata(tree("", body), "https://seeblick.example/a", FETCHED)
    assert stated.byline_authors == ("Jana Lorenz", "Kim Reyes")
    assert stated.published_at == datetime(2025, 3, 3, tzinfo=UTC)


def test_structured_dates_beat_labelled_ones():
    head = '<meta property="article:published_time" content="2025-03-02T07:00:00+01:00">'
    body = "<p><b>Datum:</b> 01.03.2025</p>"
    assert read_metadata(tree(head, body), None, FETCHED).published_at == datetime(2025, 3, 2, 7, tzinfo=CET)


def test_parse_day_first():
    assert parse_day_first("28.02.2025, 14:05 Uhr") == datetime(2025, 2, 28, 14, 5)
    assert parse_day_first("2025-02-28") == datetime(2025, 2, 28)
    assert parse_day_first("02/03/2025") is None  # day-first or month-first: not guessed
    assert parse_day_first("31.02.2025") is None


def test_byline_classes_index_links_and_captions():
    body = """<article>
      <figure><img src="a.jpg"><figcaption><span class="photo__byline">Foto: Ute Kamm</span></figcaption></figure>
      <div class="article__author"><a>Von Lea Voss</a><span>Reporterin</span></div>
      <div class="author-bio">Lea Voss schreibt seit 2010 über Häfen.</div>
      <ul class="menu"><li><a href="/autoren/">Alle Autoren</a></li><li><a href="/authors">著者一覧</a></li></ul>
      <a href="/journalistische-grundsaetze">Unsere Grundsätze für Journalisten</a>
    </article>"""
    stated = read_metadata(tree("", body), "https://seeblick.example/a", FETCHED)
    assert stated.byline_authors == ("Lea Voss",)
