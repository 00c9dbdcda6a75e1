"""The search index beside the lake: written with every stored batch, rebuilt on demand, queried by BM25."""

from datetime import UTC, date, datetime

import pytest
import tantivy

import warehouse.searchwrite
from core.records import Article
from tasks.search import SearchError
from warehouse.articles import store_articles
from warehouse.connection import lake_of, open_warehouse, run_scope
from warehouse.search import build_search_index, search

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
def folder(warehouse_path):
    return lake_of(warehouse_path).search_dir


@pytest.fixture
def con(warehouse_path, folder):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, ARTICLES, "run-1", search_dir=folder)
        yield con


def test_storing_a_batch_indexes_it_at_once(con, folder):
    assert sorted(h.url for h in search(con, folder, "Soldaten", lang="de")) == [
        "https://news.example/1",
        "https://news.example/2",
    ]
    store_articles(con, [art(8, "Soldaten im Einsatz", "Mehr Soldaten.", "de")], "run-2", search_dir=folder)
    assert len(search(con, folder, "Soldaten", lang="de")) == 3
    # a re-processed article that no longer extracts leaves the index with its row's status
    failed = art(8, "Soldaten im Einsatz", "", "de", status="no_text")
    store_articles(con, [failed], "run-3", replace=True, search_dir=folder)
    assert len(search(con, folder, "Soldaten", lang="de")) == 2


def test_build_reports_rows_per_stemmer(con, folder):
    stats = build_search_index(con, folder)
    assert stats.rows == 6  # the no_text article is not indexed
    assert stats.by_stemmer == {"german": 2, "english": 1, "french": 1, "none": 1, "greek": 1}
    assert stats.seconds > 0


def test_search_finds_inflected_forms_in_the_language(con, folder):
    hits = search(con, folder, "Soldaten", lang="de")
    assert sorted(h.url for h in hits) == ["https://news.example/1", "https://news.example/2"]
    assert hits[0].score >= hits[1].score > 0
    by_url = {h.url: h for h in hits}
    assert by_url["https://news.example/2"].snippet == "Der **Soldat** sprach über den Krieg."
    first = by_url["https://news.example/1"]
    assert first.source == "Site" and first.language == "de" and first.published_at == NOW
    assert first.title == "Nordkorea schickt Soldaten"


def test_search_across_languages_and_with_since(con, folder):
    hits = search(con, folder, "soldats soldiers Soldaten")
    assert {h.language for h in hits} == {"de", "en", "fr"}
    french = next(h for h in hits if h.language == "fr")
    assert french.source == "https://news.example/rss"  # no site name: the feed
    recent = search(con, folder, "Soldaten", lang="de", since=date(2024, 10, 1))
    assert [h.url for h in recent] == ["https://news.example/1"]


def test_search_in_non_latin_scripts(con, folder):
    assert [h.url for h in search(con, folder, "東京")] == ["https://news.example/5"]
    greek = search(con, folder, "στρατιώτες", lang="el")
    assert [h.url for h in greek] == ["https://news.example/6"]


def test_search_on_a_read_only_connection(con, folder, warehouse_path):
    con.close()
    with open_warehouse(warehouse_path, read_only=True) as ro:
        assert len(search(ro, folder, "Nordkorea")) == 1


def test_rebuild_replaces_the_index(con, folder):
    store_articles(con, [art(8, "Soldaten im Einsatz", "Mehr Soldaten.", "de")], "run-2")
    assert len(search(con, folder, "Soldaten", lang="de")) == 2  # stored without an index to update
    stats = build_search_index(con, folder)
    assert stats.by_stemmer["german"] == 3
    assert len(search(con, folder, "Soldaten", lang="de")) == 3


def test_search_without_index_or_with_bad_arguments(con, folder, tmp_path):
    with pytest.raises(SearchError, match="no search index"):
        search(con, tmp_path / "nowhere", "Soldaten")
    with pytest.raises(SearchError, match="limit"):
        search(con, folder, "Soldaten", limit=0)
    assert search(con, folder, "?!") == []
    assert search(con, folder, "Soldaten", lang="xx") == []
    assert search(con, folder, "'; DROP TABLE article_store; --") == []
    assert search(con, folder, "AND OR NOT") == []  # words, not the query language's operators
    assert con.execute("SELECT count(*) FROM article_store").fetchone()[0] == len(ARTICLES)


def words(n):
    return f"Bericht {n} " + " ".join(f"wort{n}x{i}" for i in range(30))


def test_a_run_commits_its_batches_when_it_ends(warehouse_path, folder, monkeypatch):
    # A run's batches wait for its next commit (at most COMMIT_SECONDS away); leaving the run commits.
    monkeypatch.setattr(warehouse.searchwrite, "COMMIT_SECONDS", 3600.0)
    with run_scope(warehouse_path, timeout=10), open_warehouse(warehouse_path) as con:
        store_articles(con, ARTICLES[:3], "run-1", search_dir=folder)
        store_articles(con, ARTICLES[3:], "run-1", search_dir=folder)
        assert search(con, folder, "Soldaten") == []  # stored, not yet committed to the index
    with open_warehouse(warehouse_path, read_only=True) as con:
        assert len(search(con, folder, "Soldaten", lang="de")) == 2
        assert len(search(con, folder, "soldats", lang="fr")) == 1
    # The writer is closed with the run: another one (a rebuild, the next run) gets tantivy's lock at once.
    monkeypatch.setattr(warehouse.searchwrite, "_WRITER_WAIT", 0.0)
    with open_warehouse(warehouse_path, read_only=True) as con:
        assert build_search_index(con, folder).rows == 6


def test_a_run_commits_every_commit_seconds(warehouse_path, folder, monkeypatch):
    monkeypatch.setattr(warehouse.searchwrite, "COMMIT_SECONDS", 0.0)
    with run_scope(warehouse_path, timeout=10), open_warehouse(warehouse_path) as con:
        store_articles(con, ARTICLES[:1], "run-1", search_dir=folder)
        assert [h.url for h in search(con, folder, "Nordkorea")] == ["https://news.example/1"]


def test_a_failing_run_still_commits_what_it_stored(warehouse_path, folder, monkeypatch):
    monkeypatch.setattr(warehouse.searchwrite, "COMMIT_SECONDS", 3600.0)
    with (
        pytest.raises(RuntimeError, match="later step"),
        run_scope(warehouse_path, timeout=10),
        open_warehouse(warehouse_path) as con,
    ):
        store_articles(con, ARTICLES, "run-1", search_dir=folder)
        raise RuntimeError("a later step failed")
    with open_warehouse(warehouse_path, read_only=True) as con:
        assert len(search(con, folder, "Nordkorea")) == 1


def test_a_run_of_many_batches_keeps_merging_segments(warehouse_path, folder, monkeypatch):
    # Every batch committed (the worst case): the held writer's merges run meanwhile and are not abandoned.
    monkeypatch.setattr(warehouse.searchwrite, "COMMIT_SECONDS", 0.0)
    batches = 24
    with run_scope(warehouse_path, timeout=10), open_warehouse(warehouse_path) as con:
        for n in range(batches):
            store_articles(con, [art(100 + n, f"Titel {n}", words(n), "de")], "run-1", search_dir=folder)
    index = tantivy.Index.open(str(folder))
    index.reload()
    assert index.searcher().num_docs == batches
    assert index.searcher().num_segments < batches / 2
    with open_warehouse(warehouse_path, read_only=True) as con:
        assert [h.url for h in search(con, folder, "wort7x3")] == ["https://news.example/107"]
