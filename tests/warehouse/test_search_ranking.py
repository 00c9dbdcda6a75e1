"""Search ranking across languages, and an index written by an older wirehouse (another schema)."""

from datetime import UTC, datetime

import pytest
import tantivy

import warehouse.searchschema
import warehouse.searchwrite
from tasks.search import NO_STEMMER
from tests.warehouse.test_search import art
from warehouse.articles import store_articles
from warehouse.connection import lake_of, open_warehouse
from warehouse.search import catch_up_search_index, current_snapshot, index_articles, search, search_lag

ITALIAN_TITLE = "Orso marsicano: il 2019 è un anno da record"
ITALIAN_TEXT = (
    "Nel parco nazionale d'Abruzzo gli esperti hanno contato più cuccioli di orso che in qualsiasi altro "
    "anno dall'inizio del monitoraggio. Le femmine con i piccoli sono state osservate nelle valli più "
    "remote, lontano dai sentieri frequentati dai turisti, e i ricercatori spiegano che la protezione "
    "degli habitat ha dato risultati. "
) * 4
# German pages whose short titles share one word with the Italian title: numbers, acronyms, loanwords.
SHARED = ["Anno 1800", "UN-Gipfel", "Record Store Day", "Bilanz 2019"]
GERMAN_TEXT = "Der Bürgermeister sagte, die Bahn werde im Sommer nach einer langen Pause wieder fahren. " * 6


def german(n):
    title = f"{SHARED[n]}: Nachrichten" if n < len(SHARED) else f"Nachrichten aus der Stadt, Folge {n}"
    return art(n, title, GERMAN_TEXT, "de")


@pytest.fixture
def folder(warehouse_path):
    return lake_of(warehouse_path).search_dir


def test_a_title_in_a_language_with_few_articles_finds_its_article_first(warehouse_path, folder):
    # A stemmer's fields average their lengths over every document, most of which leave the Italian ones
    # empty: the index without a shared title field ranked this article below all four German pages that
    # share one word with its title.
    italian = art(1000, ITALIAN_TITLE, ITALIAN_TEXT, "it")
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [*(german(n) for n in range(40)), italian], "run-1", search_dir=folder)
        assert search(con, folder, ITALIAN_TITLE)[0].url == italian.url
        assert search(con, folder, ITALIAN_TITLE, lang="it")[0].url == italian.url
        assert search(con, folder, "orso marsicano")[0].url == italian.url


def _old_schema():
    """The index schema before the shared title field (what an older wirehouse wrote)."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("url", stored=True, tokenizer_name="raw")
    builder.add_text_field("lang", tokenizer_name="raw")
    builder.add_text_field("stemmer", stored=True, tokenizer_name="raw")
    builder.add_date_field("seen", indexed=True, fast=True)
    for stemmer in warehouse.searchschema.FIELD_GROUPS:
        builder.add_text_field(f"title_{stemmer}", tokenizer_name=f"wirehouse_{stemmer}")
        builder.add_text_field(f"text_{stemmer}", tokenizer_name=f"wirehouse_{stemmer}")
    return builder.build()


def _write_old_index(folder, url, title):
    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_old_schema(), path=str(folder))
    for stemmer in warehouse.searchschema.FIELD_GROUPS:
        index.register_tokenizer(f"wirehouse_{stemmer}", warehouse.searchschema.analyzer(stemmer))
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    seen = datetime(2024, 1, 1, tzinfo=UTC)
    writer.add_document(
        tantivy.Document(url=url, lang="und", stemmer=NO_STEMMER, seen=seen, title_none=title)
    )
    writer.commit()
    writer.wait_merging_threads()


def test_an_index_of_the_older_schema_is_read_until_the_next_catch_up_rebuilds_it(warehouse_path, folder):
    articles = [german(n) for n in range(3)]
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, articles, "run-1")
        _write_old_index(folder, articles[0].url, "Nachrichten")
        # a mark that says it is up to date: the schema, not the mark, tells that it must be rebuilt
        warehouse.searchwrite._write_mark(folder, current_snapshot(con))
        assert [h.url for h in search(con, folder, "Nachrichten")] == [articles[0].url]  # no error
        assert search_lag(con, folder) == 3
        assert catch_up_search_index(con, folder) == 3
        assert search_lag(con, folder) == 0
        assert len(search(con, folder, "Nachrichten")) == 3
        assert catch_up_search_index(con, folder) == 0


def test_a_batch_written_to_an_index_of_the_older_schema_leaves_it_to_be_rebuilt(warehouse_path, folder):
    articles = [german(n) for n in range(3)]
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, articles[:2], "run-1")
        _write_old_index(folder, articles[0].url, "Nachrichten")
        warehouse.searchwrite._write_mark(folder, current_snapshot(con))
        store_articles(con, articles[2:], "run-2")
        index_articles(folder, articles[2:])  # replaces the old index, and its mark, with this batch
        assert [h.url for h in search(con, folder, "Nachrichten")] == [articles[2].url]
        assert catch_up_search_index(con, folder) == 3  # no mark: rebuilt from the lake
        assert len(search(con, folder, "Nachrichten")) == 3
