from datetime import UTC, datetime, timedelta, timezone

import pytest
from trafilatura.utils import load_html

from tasks.metadata import (
    choose_datetime,
    clean_title,
    host_names,
    is_site_name,
    jsonld_objects,
    main_article,
    parse_datetime,
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
