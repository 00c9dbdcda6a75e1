from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from core.records import FeedEntry, Page, Quote
from tasks.cpu import process_page
from tasks.validate import (
    EARLIEST_DATE,
    MAX_LIST,
    MAX_TEXT,
    MAX_TITLE,
    clean_text,
    clean_url,
    defuse_html,
    plausible_date,
    validate_article,
    validate_entry,
)
from tests.support.factories import make_article

FETCHED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), None),  # the poison page's datePublished
        (datetime(1989, 12, 31, tzinfo=UTC), None),
        (datetime(9999, 12, 31, tzinfo=UTC), None),
        (FETCHED + timedelta(days=2), None),
        (FETCHED + timedelta(hours=20), FETCHED + timedelta(hours=20)),
        (EARLIEST_DATE, EARLIEST_DATE),
        (datetime(2025, 3, 1, 8, 0), datetime(2025, 3, 1, 8, 0, tzinfo=UTC)),  # naive: taken as UTC
        (None, None),
    ],
)
def test_dates_outside_1990_to_a_day_after_the_fetch_are_dropped(value, expected):
    assert plausible_date(value, FETCHED) == expected


def test_a_fetch_time_at_the_end_of_the_calendar_does_not_overflow():
    assert plausible_date(datetime(2020, 1, 1, tzinfo=UTC), datetime.max.replace(tzinfo=UTC)) is None


def test_strings_are_valid_utf8_without_controls_and_capped():
    assert clean_text("a\udcffb\x00c", 10) == "a?bc"
    assert clean_text("x" * 5000, MAX_TITLE, one_line=True) == "x" * MAX_TITLE
    assert clean_text("  \n\t ", 10) is None
    assert clean_text("two\n\nlines", 100) == "two\n\nlines"
    assert clean_text("two\n\nlines", 100, one_line=True) == "two lines"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "file:///etc/passwd", "ftp://host/x", "http://", "http://[::1", "x" * 5000, ""],
)
def test_only_http_urls_with_a_host_are_urls(url):
    assert clean_url(url) is None


def test_absurd_article_values_are_dropped_or_cut():
    article = make_article(
        "body " * 10,
        title="T" * 2_000_000,
        authors=(*(f"Name {i}" for i in range(1000)), "x" * 1_000_000),
        published_at=datetime(1, 1, 1, tzinfo=UTC),
        modified_at=datetime(9999, 12, 31, tzinfo=UTC),
        fetched_at=FETCHED,
        http_status=10**20,
        language_confidence=float("nan"),
        reading_time_min=float("inf"),
        word_count=-5,
        image="javascript:alert(1)",
        declared_language="<script>",
        quotes=(Quote(0, "out of range", 10, 10**9),),
    )
    clean = validate_article(article)
    assert len(clean.title or "") == MAX_TITLE
    assert len(clean.authors) == MAX_LIST
    assert clean.published_at is None and clean.modified_at is None
    assert clean.http_status is None and clean.language_confidence is None
    assert clean.reading_time_min == 0.0 and clean.word_count == 0
    assert clean.image is None and clean.declared_language is None
    assert clean.quotes == ()


def test_a_sound_article_passes_unchanged():
    article = make_article(
        "Brüssel (dpa) - «Wir sind bereit», sagte sie.",
        title="Ein Titel",
        authors=("Anna Beispiel",),
        published_at=FETCHED - timedelta(hours=3),
        fetched_at=FETCHED,
        http_status=200,
        language="de",
        declared_language="de-DE",
        language_confidence=0.99,
        word_count=7,
        reading_time_min=0.1,
        image="https://example.org/a.jpg",
        quotes=(Quote(0, "Wir sind bereit", 15, 30),),
    )
    assert validate_article(article) == article


def test_feed_entries_are_validated_and_non_web_links_dropped():
    entry = FeedEntry(
        feed_url="http://feeds.test/rss",
        url="http://news.test/a",
        link="/a",
        title="x" * 5000,
        published_at=datetime(1, 1, 1, tzinfo=UTC),
        language="de",
    )
    clean = validate_entry(entry, FETCHED)
    assert clean is not None
    assert clean.link == "http://news.test/a" and clean.published_at is None and len(clean.title) == MAX_TITLE
    assert (
        validate_entry(FeedEntry(feed_url="f", url="javascript:void(0)", link="javascript:void(0)"), FETCHED)
        is None
    )


def _page(body: bytes) -> Page:
    entry = FeedEntry(feed_url="http://feeds.test/rss", url="http://news.test/a", link="http://news.test/a")
    return Page(entry=entry, fetched_at=FETCHED, http_status=200, content_type="text/html", body=body)


ARTICLE = "<p>" + "Ein Satz über die Politik in Brüssel und Berlin, lang genug für einen Text. " * 12 + "</p>"


@pytest.mark.parametrize(
    "head",
    [
        '<script type="application/ld+json">' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "</script>",
        '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>",
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"0001-01-01","wordCount":NaN}</script>',
        '<meta name="author" content="' + "A " * 300_000 + '">',
    ],
    ids=["nested-object", "nested-list", "year-one-and-nan", "huge-author"],
)
def test_hostile_metadata_ends_as_a_row_never_an_exception(head):
    body = f"<html><head>{head}</head><body><article><h1>Titel</h1>{ARTICLE}</article></body></html>"
    article = process_page(_page(body.encode()))
    assert article.url == "http://news.test/a"
    assert article.extraction_status in {"ok", "error"}
    assert article.published_at is None
    assert article.raw_html is not None or article.raw_html_zlib is not None


def test_a_page_over_its_time_budget_is_stored_as_an_error(monkeypatch):
    import tasks.cpu

    monkeypatch.setattr(tasks.cpu, "PAGE_SECONDS", 0.001)
    article = process_page(_page(f"<html><body><article>{ARTICLE * 50}</article></body></html>".encode()))
    assert article.extraction_status == "error"
    assert "PageTimeoutError" in (article.extraction_error or "")
    assert article.raw_html  # kept, so `wirehouse reprocess --status error` can try again


def test_an_attribute_bomb_is_defused_before_parsing():
    bomb = b"<article " + b" ".join(b'a%d="%d"' % (i, i) for i in range(200_000)) + b"><h1>T</h1>"
    defused = defuse_html(b"<html><body>" + bomb + ARTICLE.encode() + b"</article></body></html>")
    assert b"<article><h1>T</h1>" in defused and len(defused) < 10_000
    normal = b'<img src="data:image/png;base64,' + b"A" * 100_000 + b'" alt="x" class="y">'
    assert defuse_html(normal) == normal


def test_every_article_field_is_covered_by_validation():
    # A new Article field must be given a rule in validate_article (or be listed here as not from the web).
    import inspect

    source = inspect.getsource(validate_article)
    not_from_the_web = {
        "url",
        "feed_url",
        "link",
        "fetched_at",
        "extraction_status",
        "content_hash",
        "fingerprint",
    }
    not_from_the_web |= {"story_id", "retryable", "paywalled", "raw_html", "raw_html_zlib"}
    for field in fields(make_article("x")):
        assert field.name in not_from_the_web or f"{field.name}=" in source, field.name


def test_huge_text_is_capped():
    article = validate_article(make_article("w " * MAX_TEXT))
    assert len(article.text or "") <= MAX_TEXT


def test_an_archive_records_source_is_cleaned_and_a_negative_offset_dropped():
    from tests.support.factories import make_article

    article = validate_article(
        make_article(
            "Text", source_file="crawl\x00/a.warc.gz", source_record="<urn:uuid:1>", source_offset=-5
        )
    )
    assert (article.source_file, article.source_record, article.source_offset) == (
        "crawl/a.warc.gz",
        "<urn:uuid:1>",
        None,
    )
