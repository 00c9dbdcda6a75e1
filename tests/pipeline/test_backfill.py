"""Backfill's pure parts: an archive record as a page, the filters after extraction, the summary."""

from __future__ import annotations

from datetime import UTC, datetime

from core.records import ArchiveLoad, Article, BackfillSummary
from pipeline.backfill import Filters, page_of, sourced, summary_lines, wanted
from tasks.warc import ArchiveRecord

CAPTURED = datetime(2024, 10, 28, 9, 0, tzinfo=UTC)
RECORD = ArchiveRecord(
    url="https://www.harbour.example/news/1?utm_source=feed#top",
    http_status=200,
    content_type="text/html",
    charset="utf-8",
    body=b"<html><p>Hello</p></html>",
    warc_date=CAPTURED,
    record_id="<urn:uuid:1>",
    offset=4096,
)


def article(language: str | None, published: datetime | None) -> Article:
    return Article(
        url="https://www.harbour.example/news/1",
        feed_url="",
        link=RECORD.url,
        guid=None,
        title="t",
        text="x",
        fetched_at=CAPTURED,
        extraction_status="ok",
        language=language,
        published_at=published,
    )


def test_a_record_becomes_a_page_without_a_feed_under_its_canonical_url():
    page = page_of(RECORD)
    assert page.entry.feed_url == "" and page.entry.url == "https://www.harbour.example/news/1"
    assert page.entry.link == RECORD.url and page.final_url == RECORD.url
    assert (page.fetched_at, page.http_status, page.charset, page.body) == (
        CAPTURED,
        200,
        "utf-8",
        RECORD.body,
    )
    stored = sourced(article("en", None), "/data/a.warc.gz", RECORD)
    assert (stored.source_file, stored.source_record, stored.source_offset) == (
        "/data/a.warc.gz",
        "<urn:uuid:1>",
        4096,
    )


def test_language_and_period_filters_use_the_publication_date_else_the_capture_date():
    october = Filters(
        languages=("de",), since=datetime(2024, 10, 1, tzinfo=UTC), until=datetime(2024, 11, 1, tzinfo=UTC)
    )
    assert wanted(article("de", datetime(2024, 10, 5, tzinfo=UTC)), october)
    assert not wanted(article("en", datetime(2024, 10, 5, tzinfo=UTC)), october)
    assert not wanted(article("de", datetime(2024, 9, 30, tzinfo=UTC)), october)
    assert wanted(article("de", None), october)  # captured on 28 October
    assert not wanted(article(None, None), october)
    assert wanted(article(None, None), Filters())


def test_filter_keys_name_a_load_and_no_filters_is_the_empty_key():
    assert Filters().key() == ""
    assert (
        Filters(hosts=("b.example", "a.example"), languages=("de",)).key()
        == "host=a.example,b.example lang=de"
    )


def test_summary_counts_files_records_articles_and_problems():
    summary = BackfillSummary(
        run_id="r",
        warehouse="w.sqlite",
        files=(
            ArchiveLoad(
                "a",
                records=5,
                stored=3,
                skipped=1,
                failed=1,
                articles_by_status={"ok": 2, "no_text": 1},
                problems_by_kind={"not_html": 1},
            ),
            ArchiveLoad("b", already_loaded=True),
            ArchiveLoad("c", error="c: not a readable WARC or ARC file"),
        ),
        seconds=1.25,
    )
    assert summary_lines(summary) == [
        "archives: 1 loaded, 1 loaded before (skipped), 1 failed",
        "records: 5 read, 1 skipped (stored before, repeated or filtered out)",
        "articles stored: 3 (2 extracted, 1 without text)",
        "problems: not_html 1",
        "warehouse: w.sqlite (1.2 s)",
    ]
