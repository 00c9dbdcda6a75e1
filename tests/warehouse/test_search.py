"""The search index in the warehouse: built from the articles, queried by BM25, never downloading."""

from datetime import UTC, date, datetime

import duckdb
import pytest

from tasks.records import Article
from tasks.search import SearchError
from warehouse.articles import store_articles
from warehouse.connection import open_warehouse
from warehouse.search import build_search_index, fts_extension_path, load_fts, search

NOW = datetime(2024, 10, 28, 12, 0, tzinfo=UTC)


def art(n, title, text, language, published_at=NOW, status="ok", site_name="Site"):
    return Article(
        url=f"https://news.example/{n}",
        feed_url="https://news.example/rss",
        link=f"https://news.example/{n}",
        guid=f"g{n}",
        title=title,
        text=text,
        fetched_at=NOW,
        extraction_status=status,
        language=language,
        published_at=published_at,
        site_name=site_name,
    )


ARTICLES = [
    art(1, "Nordkorea schickt Soldaten", "Pjöngjang hat Tausende Soldaten nach Russland geschickt.", "de"),
    art(
        2, "Ein Soldat berichtet", "Der Soldat sprach über den Krieg.", "de", datetime(2024, 9, 1, tzinfo=UTC)
    ),
    art(3, "North Korea sends troops", "Soldiers from North Korea were sent to Russia.", "en"),
    art(4, "Des soldats nord-coréens", "Les soldats sont arrivés en Russie.", "fr", site_name=None),
    art(5, "東京で会議", "東京都で国際会議が開かれた。", "ja"),
    art(6, "Σκληρή μάχη", "Οι στρατιώτες πολέμησαν στο μέτωπο.", "el"),
    art(7, "Soldaten ohne Text", "Soldaten Soldaten", "de", status="no_text"),
]


@pytest.fixture
def con(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, ARTICLES, "run-1")
        yield con


def test_the_extension_comes_from_the_wheel_and_nothing_is_downloaded():
    assert fts_extension_path().is_file()
    con = duckdb.connect()
    load_fts(con)
    settings = con.execute(
        "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
    ).fetchone()
    assert settings == (False, False)
    assert con.execute("SELECT stem('Soldaten', 'german')").fetchone() == ("Soldat",)


def test_build_reports_rows_per_stemmer(con):
    stats = build_search_index(con)
    assert stats.rows == 6  # the no_text article is not indexed
    assert stats.by_stemmer == {"german": 2, "english": 1, "french": 1, "none": 1, "greek": 1}
    assert stats.seconds > 0


def test_search_finds_inflected_forms_in_the_language(con):
    build_search_index(con)
    hits = search(con, "Soldaten", lang="de")
    assert sorted(h.url for h in hits) == ["https://news.example/1", "https://news.example/2"]
    assert hits[0].score >= hits[1].score > 0
    by_url = {h.url: h for h in hits}
    assert by_url["https://news.example/2"].snippet == "Der **Soldat** sprach über den Krieg."
    first = by_url["https://news.example/1"]
    assert first.source == "Site" and first.language == "de" and first.published_at == NOW
    assert first.title == "Nordkorea schickt Soldaten"


def test_search_across_languages_and_with_since(con):
    build_search_index(con)
    hits = search(con, "soldats soldiers Soldaten")
    assert {h.language for h in hits} == {"de", "en", "fr"}
    french = next(h for h in hits if h.language == "fr")
    assert french.source == "https://news.example/rss"  # no site name: the feed
    recent = search(con, "Soldaten", lang="de", since=date(2024, 10, 1))
    assert [h.url for h in recent] == ["https://news.example/1"]


def test_search_in_non_latin_scripts(con):
    build_search_index(con)
    assert [h.url for h in search(con, "東京")] == ["https://news.example/5"]
    greek = search(con, "στρατιώτες", lang="el")
    assert [h.url for h in greek] == ["https://news.example/6"]


def test_search_on_a_read_only_connection(con, warehouse_path):
    build_search_index(con)
    con.close()
    with open_warehouse(warehouse_path, read_only=True) as ro:
        assert len(search(ro, "Nordkorea")) == 1


def test_rebuild_replaces_the_index(con):
    build_search_index(con)
    store_articles(con, [art(8, "Soldaten im Einsatz", "Mehr Soldaten.", "de")], "run-2")
    assert len(search(con, "Soldaten", lang="de")) == 2  # not yet indexed
    stats = build_search_index(con)
    assert stats.by_stemmer["german"] == 3
    assert len(search(con, "Soldaten", lang="de")) == 3


def test_search_without_index_or_with_bad_arguments(con):
    with pytest.raises(SearchError, match="no search index"):
        search(con, "Soldaten")
    build_search_index(con)
    with pytest.raises(SearchError, match="limit"):
        search(con, "Soldaten", limit=0)
    assert search(con, "?!") == []
    assert search(con, "Soldaten", lang="xx") == []
    assert search(con, "'; DROP TABLE article_store; --") == []
    assert con.execute("SELECT count(*) FROM article_store").fetchone()[0] == len(ARTICLES)
