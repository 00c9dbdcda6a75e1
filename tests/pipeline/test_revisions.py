"""Re-checks in real ingest runs: a loopback newsroom edits its pages between runs, into a real lake."""

from __future__ import annotations

import time

import pytest

from core.settings import exported_settings
from flows.ingest import ingest
from tests.support.editing_newsroom import article_page, english, german, serve_editing_newsroom
from warehouse import QUERIES_DIR as QUERIES
from warehouse.connection import connect
from wirehouse.cli import main

pytestmark = pytest.mark.usefixtures("prefect_harness")

RELATED_1 = ("Neue Radwege im Süden", "Bäderbetriebe erhöhen Preise")
RELATED_2 = ("Streit um den Marktplatz", "Zoo bekommt neue Elefanten")


def rows(path, sql, params=()):
    con = connect(path, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_each_real_change_is_one_revision_and_noise_none(warehouse_path, capsys):
    with serve_editing_newsroom() as site, exported_settings(recheck_after="1s,600s"):
        urls = {
            "headline": site.publish("/a/headline.html", article_page("Rat beschließt Haushalt", german())),
            "paragraph": site.publish("/a/paragraph.html", article_page("Haushalt steht", german())),
            "correction_en": site.publish(
                "/a/correction-en.html", article_page("Council passes budget", english(), lang="en")
            ),
            "correction_de": site.publish(
                "/a/correction-de.html", article_page("Haushalt beschlossen", german())
            ),
            "gone": site.publish("/a/gone.html", article_page("Später gelöscht", german())),
            "section": site.publish(
                "/politik/2026/12/07/moved-story-slug.html", article_page("Verschoben", german())
            ),
            "timestamp": site.publish(
                "/a/timestamp.html", article_page("Mit Zeitstempel", german("Aktualisiert: 14:32 Uhr"))
            ),
            "views": site.publish("/a/views.html", article_page("Mit Zähler", german("1.234 Mal gelesen"))),
            "related": site.publish(
                "/a/related.html", article_page("Mit Kasten", german(), related=RELATED_1)
            ),
            "same": site.publish("/a/same.html", article_page("Unverändert", german())),
        }
        first = ingest(feeds=site.feed, warehouse=str(warehouse_path))
        assert first.new_entries == len(urls) and first.rechecks.get("rechecked", 0) == 0
        time.sleep(1.2)  # past the first age

        site.edit("/a/headline.html", article_page("Stadtrat verabschiedet Sparhaushalt", german()))
        site.edit(
            "/a/paragraph.html",
            article_page("Haushalt steht", german("Die Abstimmung im Rat fiel mit knapper Mehrheit aus.")),
        )
        site.edit(
            "/a/correction-en.html",
            article_page(
                "Council passes budget",
                english("Correction: An earlier version of this article misstated the day of the vote."),
                lang="en",
            ),
        )
        site.edit(
            "/a/correction-de.html",
            article_page(
                "Haushalt beschlossen",
                german("Korrektur: In einer früheren Version hieß es, der Rat habe einstimmig entschieden."),
            ),
        )
        site.gone("/a/gone.html")
        site.redirect("/politik/2026/12/07/moved-story-slug.html", "/politik/")
        site.edit("/a/timestamp.html", article_page("Mit Zeitstempel", german("Aktualisiert: 16:05 Uhr")))
        site.edit("/a/views.html", article_page("Mit Zähler", german("1.377 Mal gelesen")))
        site.edit("/a/related.html", article_page("Mit Kasten", german(), related=RELATED_2))
        site.log.clear()
        second = ingest(warehouse=str(warehouse_path))
        assert second.rechecks["rechecked"] == len(urls)
        assert second.rechecks["revisions"] == 4 and second.rechecks["corrections"] == 2
        assert second.rechecks["removed"] == 2

        revisions = {
            url: (revision, changed_title, is_correction)
            for url, revision, changed_title, is_correction in rows(
                warehouse_path,
                "select url, revision, changed_title, is_correction from revisions where revision > 0",
            )
        }
        assert revisions == {
            urls["headline"]: (1, True, False),
            urls["paragraph"]: (1, False, False),
            urls["correction_en"]: (1, False, True),
            urls["correction_de"]: (1, False, True),
        }
        (added,) = rows(
            warehouse_path,
            "select words_added from revisions where url = ? and revision = 1",
            [urls["paragraph"]],
        )[0]
        assert added == 9
        # articles shows the latest version; the first stays in revisions as revision 0.
        assert rows(
            warehouse_path, "select title, revision_count from articles where url = ?", [urls["headline"]]
        ) == [("Stadtrat verabschiedet Sparhaushalt", 1)]
        assert rows(
            warehouse_path, "select title from revisions where url = ? and revision = 0", [urls["headline"]]
        ) == [("Rat beschließt Haushalt",)]
        removed = {
            url for (url,) in rows(warehouse_path, "select url from articles where removed_at is not null")
        }
        assert removed == {urls["gone"], urls["section"]}
        assert rows(warehouse_path, "select count(*) from articles")[0][0] == len(urls)  # nothing deleted
        assert (
            rows(
                warehouse_path,
                "select count(*) from articles where revision_count = 0 and removed_at is null",
            )[0][0]
            == 4
        )  # timestamp, views, related, same

        # The example queries find them, and the CLI prints the change as a word diff (plain: no TTY).
        corrected = rows(warehouse_path, (QUERIES / "corrections_this_week.sql").read_text())
        assert {r[0] for r in corrected} == {urls["correction_en"], urls["correction_de"]}
        changed = rows(warehouse_path, (QUERIES / "headlines_changed_today.sql").read_text())
        assert [(r[0], r[1], r[2]) for r in changed] == [
            (urls["headline"], "Rat beschließt Haushalt", "Stadtrat verabschiedet Sparhaushalt")
        ]
        gone = rows(warehouse_path, (QUERIES / "removed_stories.sql").read_text())
        assert {r[0] for r in gone} == removed
        capsys.readouterr()
        assert main(["revisions", urls["correction_en"], "--warehouse", str(warehouse_path)]) == 0
        printed = capsys.readouterr().out
        assert "revision 1" in printed and "[correction]" in printed and "\x1b[" not in printed
        assert "{+Correction: An earlier version of this article misstated the day of the vote.+}" in printed
        assert (
            main(["revisions", urls["headline"], "--warehouse", str(warehouse_path), "--color", "always"])
            == 0
        )
        assert "\x1b[32;4mStadtrat verabschiedet Sparhaushalt\x1b[0m" in capsys.readouterr().out

        assert main(["revisions", site.url("/a/never.html"), "--warehouse", str(warehouse_path)]) != 0
        assert capsys.readouterr().err.strip().splitlines() == [
            f"wirehouse: error: no article stored under {site.url('/a/never.html')}"
        ]

        # Search follows the latest version: the new headline's words find the article, the old ones no more.
        assert main(["search", "Sparhaushalt", "--warehouse", str(warehouse_path), "--format", "csv"]) == 0
        assert urls["headline"] in capsys.readouterr().out
        assert main(["search", "beschließt", "--warehouse", str(warehouse_path), "--format", "csv"]) == 0
        assert urls["headline"] not in capsys.readouterr().out

        # The next age is far off: a run with nothing due fetches no page.
        site.log.clear()
        third = ingest(warehouse=str(warehouse_path))
        assert third.rechecks.get("rechecked", 0) == 0
        assert site.page_requests() == []


def test_rechecks_keep_to_the_budget_and_the_cap_per_host_after_new_articles(warehouse_path):
    settings = {"recheck_after": "1s,600s", "recheck_min": 3, "recheck_share": 0, "recheck_per_host": 2}
    with serve_editing_newsroom() as site, exported_settings(**settings):
        for n in range(5):
            site.publish(f"/a/local-{n}.html", article_page(f"Lokal {n}", german()))
        for n in range(3):
            site.publish(f"/b/other-{n}.html", article_page(f"Anders {n}", german()), host="localhost")
        ingest(feeds=site.feed, warehouse=str(warehouse_path))
        time.sleep(1.2)
        fresh = site.publish("/a/fresh.html", article_page("Ganz neu", german()))
        site.log.clear()
        second = ingest(warehouse=str(warehouse_path))
        assert second.new_entries == 1 and second.rechecks["rechecked"] == 3
        ip_pages, name_pages = site.page_requests("127.0.0.1"), site.page_requests("localhost")
        # Five due on one host, three on the other, a budget of three and a cap of two per host.
        assert len(ip_pages) == 1 + 2  # the new article, and the cap per host
        assert len(name_pages) == 1  # the rest of the budget
        assert site.page_requests()[0] == "/a/fresh.html"  # new articles first
        assert fresh in {u for (u,) in rows(warehouse_path, "select url from articles")}


def test_on_a_postgresql_catalog_the_shard_of_the_feed_rechecks_it(postgres_catalog, tmp_path):
    from pipeline.load import shard_of

    settings = {"recheck_after": "1s,600s", "data_path": str(tmp_path / "shared-data") + "/"}
    with serve_editing_newsroom() as site, exported_settings(**settings):
        headline = site.publish("/a/headline.html", article_page("Rat beschließt Haushalt", german()))
        gone = site.publish("/a/gone.html", article_page("Später gelöscht", german()))
        same = site.publish("/a/same.html", article_page("Unverändert", german()))
        first = ingest(feeds=site.feed, warehouse=postgres_catalog)
        assert first.new_entries == 3
        time.sleep(1.2)
        site.edit("/a/headline.html", article_page("Stadtrat verabschiedet Sparhaushalt", german()))
        site.gone("/a/gone.html")
        owner = shard_of(site.feed, 2)
        other = ingest(warehouse=postgres_catalog, shard=f"{1 - owner}/2")
        assert other.rechecks.get("rechecked", 0) == 0  # not its feed's articles
        mine = ingest(warehouse=postgres_catalog, shard=f"{owner}/2")
        assert (
            mine.rechecks["rechecked"] == 3
            and mine.rechecks["revisions"] == 1
            and mine.rechecks["removed"] == 1
        )
    found = rows(
        postgres_catalog,
        "select url, title, revision_count, removed_at is not null from articles order by url",
    )
    assert found == sorted(
        [
            (headline, "Stadtrat verabschiedet Sparhaushalt", 1, False),
            (gone, "Später gelöscht", 0, True),
            (same, "Unverändert", 0, False),
        ]
    )


def test_reprocessing_compares_later_versions_with_the_re_extracted_text(warehouse_path):
    from flows.reprocess import reprocess

    with serve_editing_newsroom() as site, exported_settings(recheck_after="1s,600s"):
        url = site.publish("/a/same.html", article_page("Unverändert", german()))
        ingest(feeds=site.feed, warehouse=str(warehouse_path))
        con = connect(warehouse_path)
        try:  # pretend an older wirehouse extracted it with a stray line
            con.execute("update article_rechecks set text = text || '\nWerbung Anzeige'")
        finally:
            con.close()
        reprocess(warehouse=str(warehouse_path), status="ok")
        time.sleep(1.2)
        site.edit(
            "/a/same.html", article_page("Unverändert", german(), related=RELATED_1)
        )  # new bytes: no 304
        site.log.clear()
        second = ingest(warehouse=str(warehouse_path))
        assert site.page_requests() == ["/a/same.html"]
        assert second.rechecks["rechecked"] == 1 and second.rechecks.get("revisions", 0) == 0
    assert rows(warehouse_path, "select revision_count from articles where url = ?", [url]) == [(0,)]


def test_reprocessing_re_extracts_the_stored_version_whose_page_is_kept(warehouse_path, capsys):
    from flows.reprocess import reprocess
    from pipeline.batch import REVISIONS_REEXTRACTED, REVISIONS_WITHOUT_PAGE

    with serve_editing_newsroom() as site, exported_settings(recheck_after="1s,600s"):
        url = site.publish("/a/headline.html", article_page("Rat beschließt Haushalt", german()))
        ingest(feeds=site.feed, warehouse=str(warehouse_path))
        time.sleep(1.2)
        site.edit("/a/headline.html", article_page("Stadtrat verabschiedet Sparhaushalt", german()))
        assert ingest(warehouse=str(warehouse_path)).rechecks["revisions"] == 1
    con = connect(warehouse_path)
    try:  # pretend an older wirehouse extracted both versions differently
        con.execute(
            "update article_revisions set title = 'Alt: ' || title, text = 'Werbung Anzeige\n' || text"
        )
    finally:
        con.close()
    counts = reprocess(warehouse=str(warehouse_path), status="ok")
    # The latest version's page is raw_pages' row; the first version's page was replaced by it.
    assert counts[REVISIONS_REEXTRACTED] == 1 and counts[REVISIONS_WITHOUT_PAGE] == 1
    ((title, text),) = rows(warehouse_path, "select title, text from articles where url = ?", [url])
    assert title == "Stadtrat verabschiedet Sparhaushalt"
    versions = rows(
        warehouse_path, "select revision, title, text from article_revisions where url = ? order by 1", [url]
    )
    assert versions[1] == (1, title, text)
    assert versions[0][1] == "Alt: Rat beschließt Haushalt" and versions[0][2].startswith("Werbung Anzeige\n")

    assert main(["reprocess", "--status", "ok", "--warehouse", str(warehouse_path)]) == 0
    assert "revisions: 1 re-extracted, 1 not: the lake keeps only the latest version's page" in (
        capsys.readouterr().out
    )
