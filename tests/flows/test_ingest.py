"""A real Prefect flow run against the bundled sample newsroom on loopback, into a real DuckDB file."""

from __future__ import annotations

import math
import time

import pytest
import tantivy

from core.settings import exported_settings
from flows.ingest import ingest
from tasks.feeds import parse_feed
from tests.support.bulk_newsroom import BulkNewsroom
from warehouse.connection import connect, lake_of

pytestmark = pytest.mark.usefixtures("prefect_harness")


def served_entries(newsroom):
    """Every distinct canonical article URL the newsroom's feeds list, read from the served feeds."""
    import httpx

    urls = set()
    for name in ("inland.rss", "world.atom", "culture.rdf"):
        url = f"{newsroom.base}/feeds/{name}"
        body = httpx.get(url).content
        urls |= {e.url for e in parse_feed(body, url).entries}
    return urls


def rows(path, sql, params=()):
    con = connect(path, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_ingest_twice_stores_every_article_once_and_fetches_nothing_again(newsroom, warehouse_path):
    expected = served_entries(newsroom)
    newsroom.log.clear()
    first = ingest(feeds=newsroom.opml, warehouse=str(warehouse_path), batch_size=7)
    assert first.feeds == 3 and first.feeds_failed == 0
    assert first.new_entries == len(expected)
    stored = {r[0] for r in rows(warehouse_path, "select url from articles")}
    assert stored == expected
    page_requests = [p for p in newsroom.log if p.split("?")[0].endswith(".html")]
    assert len(page_requests) == len(expected)
    # Search is never stale: every article the run extracted is in the index when the run ends (its
    # batches wait for the run's commit), and the run closed its writer (the next one takes it at once).
    ok = {r[0] for r in rows(warehouse_path, "select url from articles where extraction_status = 'ok'")}
    index = tantivy.Index.open(str(lake_of(warehouse_path).search_dir))
    index.reload()
    found = index.searcher().search(tantivy.Query.all_query(), limit=len(expected) + 1)
    assert ok and {index.searcher().doc(a)["url"][0] for _, a in found.hits} == ok
    index.writer(num_threads=1).rollback()

    newsroom.log.clear()
    second = ingest(warehouse=str(warehouse_path), batch_size=7)  # the stored feeds, not the OPML again
    assert second.new_entries == 0
    assert rows(warehouse_path, "select count(*), count(distinct url) from articles")[0] == (
        len(expected),
        len(expected),
    )
    assert [
        p for p in newsroom.log if p.split("?")[0].endswith(".html")
    ] == []  # no article page fetched again
    fetches = rows(
        warehouse_path,
        "select run_id, count(*), sum(new_entries) from feed_fetches group by 1 order by 3 desc",
    )
    assert [(n, new) for _, n, new in fetches] == [(3, len(expected)), (3, 0)]


def test_wire_story_and_fallbacks_land_in_the_warehouse(newsroom, warehouse_path):
    ingest(feeds=newsroom.opml, warehouse=str(warehouse_path))
    (wire,) = rows(
        warehouse_path,
        "select language, extraction_status, text, word_count, published_at from articles where text like 'Brüssel (dpa) -%' and url like '%bruessel%'",
    )
    language, status, text, words, published = wire
    assert (language, status) == ("de", "ok")
    assert "«" in text and words > 150
    assert published is not None and published.tzinfo is not None
    (missing,) = rows(
        warehouse_path,
        "select extraction_status, title, text, http_status from articles where url like '%gibt-es-nicht%'",
    )
    assert missing[0] == "http_error" and missing[3] == 404
    assert missing[1] and missing[2]  # the feed's own title and summary are kept
    (enriched,) = rows(
        warehouse_path,
        "select dateline_place, agencies, story_id, (select count(*) from quotes q where q.article_url = a.url),"
        " keywords, paragraph_count from articles a where url like '%nato-treffen-bruessel%'",
    )
    place, agencies, story, quote_count, keywords, paragraphs = enriched
    assert (place, agencies) == ("Brüssel", ["dpa"])
    assert quote_count >= 2 and keywords and paragraphs >= 4
    # the second outlet's copy of the same dpa text is the same story; nothing else joins it
    copies = rows(warehouse_path, "select url from articles where story_id = ? order by url", [story])
    assert [u.rsplit("/", 1)[1] for (u,) in copies] == [
        "nato-minister-ostflanke.html",
        "nato-treffen-bruessel.html",
    ]
    assert (
        rows(warehouse_path, "select count(*) from stories")[0][0]
        == rows(warehouse_path, "select count(*) - 1 from articles")[0][0]
    )
    languages = dict(rows(warehouse_path, "select language, count(*) from articles group by 1"))
    assert {"de", "en", "fr", "es", "it"} <= set(languages)


def test_every_task_run_is_recorded_and_artifacts_are_published(newsroom, warehouse_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    summary = ingest(feeds=newsroom.opml, warehouse=str(warehouse_path), batch_size=5)
    # Full batches of 5, plus partial ones sent while the worker pool would otherwise idle.
    assert summary.batches >= math.ceil(summary.new_entries / 5)
    # prepare, read-feed-list, import-feeds, list-feeds, one fetch per feed, one per batch, plan-rechecks
    # (nothing due: no recheck batch), record, report
    expected_tasks = 4 + summary.feeds + summary.batches + 1 + 2
    with get_client(sync_client=True) as client:
        # The server's task-run recorder writes in batches (every few seconds): wait for it, bounded.
        deadline = time.monotonic() + 60
        while True:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[summary.run_id]))
            )
            # A task run can be listed before its first state is: no state yet means not done.
            done = len(task_runs) >= expected_tasks and all(
                t.state is not None and t.state.is_completed() for t in task_runs
            )
            if done or time.monotonic() > deadline:  # states arrive after the runs themselves
                break
            time.sleep(0.5)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[summary.run_id]))
        )
    assert len(task_runs) == expected_tasks
    assert all(t.state is not None and t.state.is_completed() for t in task_runs)
    assert {a.key for a in artifacts} >= {"ingest-feeds", "ingest-failures", "ingest-summary"}
    (report,) = [a.data for a in artifacts if a.key == "ingest-summary"]
    for fragment in (
        "| language | articles |",
        "| de |",
        "| source | articles |",
        "| story (wire copies) |",
        "feeds ",
    ):
        assert fragment in report


def test_a_failing_feed_does_not_fail_the_run(newsroom, warehouse_path, tmp_path):
    feed_list = tmp_path / "feeds.toml"
    feed_list.write_text(
        f'[[feed]]\nurl = "{newsroom.base}/feeds/inland.rss"\n[[feed]]\nurl = "{newsroom.base}/feeds/nope.rss"\n'
        f'[[feed]]\nurl = "{newsroom.base}/de/regionalliga-derby.html"\n'
    )
    summary = ingest(feeds=str(feed_list), warehouse=str(warehouse_path))
    assert summary.feeds == 3 and summary.feeds_failed == 2
    errors = dict(
        rows(warehouse_path, "select feed_url, error_reason from feed_fetches where error is not null")
    )
    assert errors == {
        f"{newsroom.base}/feeds/nope.rss": "http_404",
        f"{newsroom.base}/de/regionalliga-derby.html": "not_a_feed",
    }
    assert rows(warehouse_path, "select count(*) from articles")[0][0] > 0


def test_a_run_where_no_feed_can_be_fetched_fails_with_one_clear_message(newsroom, warehouse_path, tmp_path):
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text(f"{newsroom.base}/feeds/nope.rss\n{newsroom.base}/feeds/gone.rss\n")
    state = ingest(feeds=str(feed_list), warehouse=str(warehouse_path), return_state=True)
    assert state.is_failed()
    assert state.message == (
        "no feed could be fetched: 2 of 2 failed with http_404 "
        f"(e.g. {newsroom.base}/feeds/gone.rss: HTTP 404); see the feed_fetches view"
    )
    assert rows(warehouse_path, "select count(*) from feed_fetches where error is not null")[0][0] == 2


def test_a_run_whose_feeds_are_all_blocked_names_the_reason_and_the_setting(
    newsroom, warehouse_path, tmp_path
):
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text(f"{newsroom.base}/feeds/inland.rss\n{newsroom.base}/feeds/world.atom\n")
    with exported_settings(allow_private_hosts="only-this.example"):  # not 127.0.0.1
        state = ingest(feeds=str(feed_list), warehouse=str(warehouse_path), return_state=True)
    assert state.is_failed()
    assert state.message.startswith(
        "no feed could be fetched: 2 of 2 failed with blocked_address (127.0.0.1 "
    )
    assert "set WIREHOUSE_ALLOW_PRIVATE_HOSTS=127.0.0.1)" in state.message


def test_batches_are_stored_while_a_slow_feed_is_still_being_fetched(warehouse_path):
    slow = 3
    room = BulkNewsroom(feeds=4, items=4, feed_delays={slow: 15.0})
    settings = {"host_delay": 0.0, "host_concurrency": 4, "read_timeout": 60.0}
    # A batch of 50 never fills before the slow feed answers: its first articles go in partial batches.
    with room.running(), exported_settings(**settings):
        summary = ingest(feeds=room.opml, warehouse=str(warehouse_path), batch_size=50)
    assert summary.feeds_failed == 0 and summary.new_entries == 16
    ((slow_answered,),) = rows(
        warehouse_path,
        "select finished_at from feed_fetches where feed_url = ?",
        [f"{room.base}/feed/{slow}.rss"],
    )
    stored_before = rows(
        warehouse_path,
        "select feed_url, count(*) from articles where ingested_at < ? group by 1 order by 1",
        [slow_answered],
    )
    # Every other feed's articles were stored before the slow feed's fetch ended; none of its own were.
    assert stored_before == [(f"{room.base}/feed/{i}.rss", 4) for i in range(4) if i != slow]
