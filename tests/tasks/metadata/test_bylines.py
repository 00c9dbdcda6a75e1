"""Bylines: person names and agencies."""

from datetime import UTC, datetime

import pytest

from tasks.metadata import (
    read_metadata,
    split_byline,
)
from tests.tasks.metadata import FETCHED, tree


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


def test_labelled_fields_give_author_and_date():
    body = """<article><p>Text.</p><ul class="facts">
      <li><strong>Datum</strong> 03.03.2025</li><li><strong>Autorin/Autor</strong> Jana Lorenz</li></ul>
      <dl><dt>Author</dt><dd>Kim Reyes</dd></dl></article>"""
    stated = read_metadata(tree("", body), "https://seeblick.example/a", FETCHED)
    assert stated.byline_authors == ("Jana Lorenz", "Kim Reyes")
    assert stated.published_at == datetime(2025, 3, 3, tzinfo=UTC)


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


@pytest.mark.parametrize(
    ("byline", "authors", "agencies"),
    [
        # Initials in brackets are part of the credit, kept whole.
        ("Elena Berg (ebe)", ["Elena Berg (ebe)"], []),
        ("Von Elena Berg (ebe) und Kai Moll (kmo)", ["Elena Berg (ebe)", "Kai Moll (kmo)"], []),
        # Every name of a multi-author byline, Oxford comma or not.
        ("By Sam Okafor, Lee Chan, and Ana Ruiz", ["Sam Okafor", "Lee Chan", "Ana Ruiz"], []),
        # Picture credits are never authors.
        ("Image: Getty Images", [], []),
        ("By Sam Okafor | Photo: Lee Chan", ["Sam Okafor"], []),
        ("Getty Images", [], []),
        # A dateline after an agency is the agency's; after a person, the person's.
        ("Associated Press in Valencia", [], ["ap"]),
        ("Jane Roe in Kyiv and Associated Press in Valencia", ["Jane Roe"], ["ap"]),
        ("Seeblick staff and agencies in Valencia", [], []),
        # An account written in lower case is no printed name; initials alone may be.
        ("hafen news", [], []),
        ("ssi", ["ssi"], []),
    ],
)
def test_bylines_name_people_only(byline, authors, agencies):
    assert split_byline(byline, ["Seeblick"], single_word=True) == (authors, agencies)


def test_every_name_marked_in_a_byline_counts():
    body = """<article><p class="byline">Von <span itemprop="name">Ina Berg</span>,
      <span itemprop="name">Ole Friis</span> und <span itemprop="name">Eda Yilmaz</span></p><p>Text.</p></article>"""
    stated = read_metadata(tree("", body), "https://seeblick.example/a", FETCHED)
    assert stated.byline_authors == ("Ina Berg", "Ole Friis", "Eda Yilmaz")


def test_a_picture_agency_stated_as_the_author_is_no_person():
    head = """<meta property="og:site_name" content="Seeblick">
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": "Ebbe",
      "author": [{"@type": "Person", "name": "Getty Images"}, {"@type": "Person", "name": "Ina Berg"}]}</script>"""
    stated = read_metadata(tree(head), "https://seeblick.example/ebbe", FETCHED)
    assert stated.authors == ("Ina Berg",)
    assert stated.site_name == "Seeblick"
