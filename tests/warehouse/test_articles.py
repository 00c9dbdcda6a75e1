"""Articles, raw pages and quotes in the warehouse: idempotent batches, known URLs, retries, stories."""

import zlib
from datetime import UTC, datetime

import duckdb
import pytest

from core.rawhtml import COMPRESSION, decompress_html
from core.records import Article, FeedEntry
from warehouse.articles import MAX_FETCH_ATTEMPTS, known_urls, store_articles
from warehouse.connection import open_warehouse

NOW = datetime(2024, 10, 28, 15, 0, tzinfo=UTC)


def art(n, **kw):
    base = dict(
        url=f"https://x.example/{n}",
        feed_url="https://x.example/rss",
        link=f"https://x.example/{n}?utm_source=rss",
        guid=f"g{n}",
        title=f"T{n}",
        text=f"text {n}",
        fetched_at=NOW,
        extraction_status="ok",
        authors=("A", "B"),
        published_at=NOW,
        language="de",
        language_confidence=0.99,
        word_count=2,
        raw_html=b"<html>%d</html>" % n,
    )
    return Article(**{**base, **kw})


def entry(n, feed="https://x.example/rss", guid=None):
    return FeedEntry(
        feed_url=feed, url=f"https://x.example/{n}", link=f"https://x.example/{n}", guid=guid or f"g{n}"
    )


def count(con, table="articles"):
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def test_storing_the_same_batch_twice_never_duplicates(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2)], "run-1")
        store_articles(con, [art(1), art(2), art(3)], "run-2")
        assert count(con) == 3
        assert count(con, "raw_pages") == 3
        # the first stored version wins: a settled article is never overwritten by a later run
        assert (
            con.execute("select run_id from article_store where url = 'https://x.example/1'").fetchone()[0]
            == "run-1"
        )


def test_articles_view_has_the_documented_types(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1)], "r")
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns where table_name = 'articles'"
            ).fetchall()
        )
        fetch_types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns where table_name = 'feed_fetches'"
            ).fetchall()
        )
    assert {
        k: types[k]
        for k in (
            "url",
            "feed_url",
            "title",
            "text",
            "authors",
            "published_at",
            "language",
            "language_confidence",
            "word_count",
            "fetched_at",
            "extraction_status",
        )
    } == {
        "url": "VARCHAR",
        "feed_url": "VARCHAR",
        "title": "VARCHAR",
        "text": "VARCHAR",
        "authors": "VARCHAR[]",
        "published_at": "TIMESTAMP WITH TIME ZONE",
        "language": "VARCHAR",
        "language_confidence": "DOUBLE",
        "word_count": "INTEGER",
        "fetched_at": "TIMESTAMP WITH TIME ZONE",
        "extraction_status": "VARCHAR",
    }
    assert fetch_types == {
        "feed_url": "VARCHAR",
        "started_at": "TIMESTAMP WITH TIME ZONE",
        "http_status": "INTEGER",
        "entries_seen": "INTEGER",
        "new_entries": "INTEGER",
        "error": "VARCHAR",
        "error_reason": "VARCHAR",
        "finished_at": "TIMESTAMP WITH TIME ZONE",
        "final_url": "VARCHAR",
        "run_id": "VARCHAR",
    }


def test_values_round_trip(warehouse_path):
    tricky = "'); DROP TABLE articles; --"
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1, title=tricky, authors=())], "r")
        title, authors, published, html = con.execute(
            "select a.title, a.authors, a.published_at, r.html from articles a join raw_pages r using (url)"
        ).fetchone()
    assert title == tricky
    assert authors == []
    assert published == NOW
    assert decompress_html(html, COMPRESSION) == b"<html>1</html>"


def test_known_urls_by_url_and_by_guid_within_the_feed(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1), art(2)], "r")
        candidates = [
            entry(1),  # same URL
            FeedEntry(
                feed_url="https://x.example/rss", url="https://x.example/moved", link="l", guid="g2"
            ),  # same GUID, same feed
            FeedEntry(
                feed_url="https://other.example/rss", url="https://x.example/other", link="l", guid="g2"
            ),  # GUID of another feed
            entry(9),
        ]
        assert known_urls(con, candidates) == {"https://x.example/1", "https://x.example/moved"}
        assert known_urls(con, []) == set()


def test_transient_fetch_failures_are_retried_a_few_times_then_settle(warehouse_path):
    failed = art(5, extraction_status="fetch_failed", text=None, retryable=True, raw_html=None)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [failed], "r1")
        for attempt in range(2, MAX_FETCH_ATTEMPTS + 1):
            assert known_urls(con, [entry(5)]) == set(), f"attempt {attempt} should be allowed"
            store_articles(con, [failed], f"r{attempt}")
        assert known_urls(con, [entry(5)]) == {"https://x.example/5"}
        # a later success replaces a retryable failure
        store_articles(con, [art(6, extraction_status="fetch_failed", retryable=True, raw_html=None)], "r")
        store_articles(con, [art(6)], "r-ok")
        assert con.execute(
            "select extraction_status, run_id from articles where url like '%/6'"
        ).fetchone() == ("ok", "r-ok")
        assert count(con) == 2


def test_a_failed_batch_leaves_nothing_behind(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        with pytest.raises(duckdb.ConstraintException):
            store_articles(con, [art(1), art(2, extraction_status=None)], "r")  # NOT NULL violated mid-batch
        assert count(con) == 0
        assert count(con, "raw_pages") == 0


WIRE = (
    "Brüssel (dpa) - Die Verteidigungsminister der Nato haben sich am Donnerstag in Brüssel auf neue Ziele "
    "für die Vorräte an Munition verständigt. Der Generalsekretär sprach nach den Beratungen von einem wichtigen "
    "Schritt für die Abschreckung des Bündnisses. Die Lager vieler Mitgliedsstaaten gelten seit Monaten als knapp, "
    "und mehrere Regierungen hatten zuletzt neue Bestellungen bei der Rüstungsindustrie aufgegeben.\n"
    "Offen blieb am Abend, wer die zusätzlichen Kosten tragen soll. Einige kleinere Staaten fordern einen "
    "gemeinsamen Fonds, andere lehnen das ab und verweisen auf ihre nationalen Haushalte. Das nächste Treffen "
    "der Minister ist für den Februar geplant, bis dahin sollen Fachleute einen Vorschlag ausarbeiten."
)
OTHER = (
    "Hamburg - Der Hafen meldet für das dritte Quartal einen deutlichen Rückgang beim Umschlag von Containern. "
    "Die Betreiber begründen das mit der schwachen Nachfrage aus Asien und mit dem Streik der Lotsen im Sommer. "
    "Für das kommende Jahr erwarten sie eine Erholung, wenn die neuen Liegeplätze am Westufer fertig sind und die "
    "Elbvertiefung wirkt. Die Gewerkschaft warnt dagegen vor einem weiteren Abbau von Stellen in der Logistik."
)


def test_quotes_and_wire_copy_stories(warehouse_path):
    from core.records import Quote
    from tasks import wirecopy

    def wire(n, text, hour, **kw):
        return art(
            n, text=text, fingerprint=wirecopy.fingerprint(text), published_at=NOW.replace(hour=hour), **kw
        )

    quoted = wire(
        1,
        WIRE,
        10,
        quotes=(Quote(1, "Wir bleiben", 10, 21), Quote(2, "Nein", 30, 34)),
        site_name="Rheinblick",
    )
    copy = wire(2, WIRE.rsplit(".", 2)[0] + ".\nFoto: Archiv", 12, site_name="Weserland")
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [quoted, copy, wire(3, OTHER, 11)], "r")
        store_articles(con, [quoted], "r2")  # settled: neither the row nor its quotes change
        assert con.execute("select ordinal, quote, start_offset from quotes order by ordinal").fetchall() == [
            (1, "Wir bleiben", 10),
            (2, "Nein", 30),
        ]
        # an earlier copy arrives late: the whole story is renamed after it
        store_articles(
            con, [wire(4, WIRE.replace("Donnerstag", "Donnerstagmorgen"), 8, site_name="Frühpost")], "r3"
        )
        stories = con.execute(
            "select story_id, size, outlets_count from stories order by size desc, story_id"
        ).fetchall()
        ids = dict(con.execute("select url, story_id from articles").fetchall())
    assert stories[0] == ("https://x.example/4", 3, 3)
    assert [s[1] for s in stories] == [3, 1]
    assert ids["https://x.example/3"] == "https://x.example/3"


def test_stored_pages_come_back_for_reprocessing_with_their_charset(warehouse_path):
    from warehouse.articles import stored_page_urls, stored_pages

    latin = "<html><body><p>Grüße aus Köln</p></body></html>".encode("latin-1")
    waiting = art(
        2, extraction_status="http_error", http_status=503, retryable=True, raw_html=b"<html>busy</html>"
    )
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1, raw_html=latin, charset="iso-8859-1"), waiting], "r")
        assert stored_page_urls(con) == [
            "https://x.example/1"
        ]  # a page waiting for a re-fetch is not re-processed
        (page,) = stored_pages(con, ["https://x.example/1"])
    assert page.body == latin and page.charset == "iso-8859-1"
    assert page.entry.url == "https://x.example/1" and page.entry.feed_url == "https://x.example/rss"


def test_replacing_keeps_the_fetch_bookkeeping(warehouse_path):
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [art(1)], "r1")
        store_articles(con, [art(1, text="better text")], "r2", replace=True)
        row = con.execute("select text, run_id, fetch_attempts, retryable from article_store").fetchone()
    assert row == ("better text", "r2", 1, False)


def test_replacing_drops_quotes_and_band_keys_the_new_version_has_not(warehouse_path):
    from core.records import Quote
    from tasks import wirecopy

    old = art(1, text=WIRE, fingerprint=wirecopy.fingerprint(WIRE), quotes=(Quote(1, "Wir bleiben", 10, 21),))
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [old, art(2, text=OTHER, fingerprint=wirecopy.fingerprint(OTHER))], "r1")
        assert count(con, "quotes") == 1 and count(con, "story_keys") == 2 * wirecopy.BANDS
        # re-processed: no quotes, no fingerprint any more; stored alongside a new article
        store_articles(con, [art(1, text="short now"), art(3)], "r2", replace=True)
        assert count(con, "quotes") == 0
        assert con.execute("select distinct url from story_keys").fetchall() == [("https://x.example/2",)]
        assert count(con) == 3 and count(con, "raw_pages") == 3


def test_a_transient_failure_waits_its_pause_before_the_next_attempt(warehouse_path):
    from datetime import timedelta

    failed = art(5, extraction_status="fetch_failed", text=None, retryable=True, raw_html=None)
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [failed], "r1")  # fetched_at = NOW, attempt 1
        assert known_urls(con, [entry(5)], now=NOW + timedelta(minutes=10)) == {"https://x.example/5"}
        assert known_urls(con, [entry(5)], now=NOW + timedelta(minutes=16)) == set()
        store_articles(con, [failed], "r2")  # attempt 2 (same fetched_at in this test): 30 min pause
        assert known_urls(con, [entry(5)], now=NOW + timedelta(minutes=20)) == {"https://x.example/5"}
        assert known_urls(con, [entry(5)], now=NOW + timedelta(minutes=31)) == set()


def test_reprocessing_reads_zlib_rows_of_the_old_format_beside_zstd_rows(warehouse_path):
    """A lake written before the switch to zstd keeps its zlib rows; both kinds come back byte for byte."""
    from warehouse.articles import raw_pages_table, stored_page_urls, stored_pages

    old_html = b"<html><body><p>stored by wirehouse 0.1</p></body></html>" * 20
    new_html = b"<html><body><p>stored now</p></body></html>" * 20
    # A batch staged by an older wirehouse carries zlib bytes in raw_html_zlib: labelled as what it holds.
    staged = art(1, raw_html=None, raw_html_zlib=zlib.compress(old_html, 3))
    assert raw_pages_table([staged, art(2, raw_html=new_html)]).column("compression").to_pylist() == [
        "zlib",
        "zstd",
    ]
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, [staged, art(2, raw_html=new_html)], "r")
        rows = dict(con.execute("select url, compression from raw_pages").fetchall())
        assert rows == {"https://x.example/1": "zlib", "https://x.example/2": "zstd"}
        pages = stored_pages(con, stored_page_urls(con))
    assert [p.body for p in pages] == [old_html, new_html]


def test_the_page_signals_are_stored_and_a_runs_breakdown_counts_page_types(warehouse_path):
    from warehouse.articles import run_breakdown

    rows = [
        art(1, page_type="article", extraction_confidence=0.93, seo_title="Longer title for search engines"),
        art(2, page_type="article", extraction_confidence=0.31),
        art(3, page_type="wall", extraction_confidence=0.0, extraction_status="consent_wall"),
    ]
    with open_warehouse(warehouse_path, migrate=True) as con:
        store_articles(con, rows, "run-7")
        stored = con.execute(
            "SELECT url, seo_title, page_type, extraction_confidence FROM articles ORDER BY url"
        ).fetchall()
        breakdown = run_breakdown(con, "run-7")
    assert stored[0][1:] == ("Longer title for search engines", "article", 0.93)
    assert [r[2] for r in stored] == ["article", "article", "wall"]
    # Low confidence counts extracted bodies only: a wall's 0 is its status, not a doubtful body.
    assert breakdown["page_type"] == [("article", 2, 1), ("wall", 1, 0)]
