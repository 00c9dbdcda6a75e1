"""Dates."""

from datetime import UTC, datetime, timedelta

from tasks.metadata import (
    choose_datetime,
    parse_datetime,
    parse_day_first,
    read_metadata,
)
from tests.tasks.metadata import CET, FETCHED, tree


def test_dates_keep_the_page_offset_and_never_lie_in_the_future():
    naive = parse_datetime("2025-03-04 09:00:00")
    aware = parse_datetime("2025-03-04T09:00:00+01:00")
    assert choose_datetime([naive, aware], FETCHED) == aware  # the naive one takes the stated offset
    assert choose_datetime([parse_datetime("2025-03-05T09:00:00+01:00"), aware], FETCHED) == aware
    assert choose_datetime([FETCHED - timedelta(seconds=5)], FETCHED) is None  # the page's render time
    assert parse_datetime("Tue, 04 Mar 2025 09:00:00 +0100") == aware
    assert parse_datetime("2025-03-04T08:00:00Z") == aware
    assert parse_datetime("gestern") is None


def test_structured_dates_beat_labelled_ones():
    head = '<meta property="article:published_time" content="2025-03-02T07:00:00+01:00">'
    body = "<p><b>Datum:</b> 01.03.2025</p>"
    assert read_metadata(tree(head, body), None, FETCHED).published_at == datetime(2025, 3, 2, 7, tzinfo=CET)


def test_parse_day_first():
    assert parse_day_first("28.02.2025, 14:05 Uhr") == datetime(2025, 2, 28, 14, 5)
    assert parse_day_first("2025-02-28") == datetime(2025, 2, 28)
    assert parse_day_first("02/03/2025") is None  # day-first or month-first: not guessed
    assert parse_day_first("31.02.2025") is None


def test_a_placeholder_date_falls_through_to_the_next_source():
    # A CMS that never filled the field states year one; the page's meta tag has the real date.
    head = """<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Schleuse offen",
      "datePublished": "0001-01-01T00:00:00+01:00", "dateModified": "0001-01-01T00:00:00+01:00"}</script>
    <meta property="article:published_time" content="2025-03-03T18:20:00+01:00">"""
    stated = read_metadata(tree(head), "https://seeblick.example/schleuse", FETCHED)
    assert stated.published_at == datetime(2025, 3, 3, 18, 20, tzinfo=CET)
    assert stated.modified_at is None
    # With no other source there is no date at all, rather than a wrong one.
    alone = head.split("<meta")[0]
    assert read_metadata(tree(alone), "https://seeblick.example/schleuse", FETCHED).published_at is None


def test_dates_before_1990_or_more_than_a_day_after_the_fetch_are_refused():
    old = datetime(1989, 12, 31, 23, 0)
    late = parse_datetime("9999-12-31T23:59:59-05:00")
    assert choose_datetime([old, late, None], FETCHED) is None
    assert choose_datetime([late, datetime(1990, 1, 1, 8, 0)], FETCHED) == datetime(1990, 1, 1, 8, tzinfo=UTC)
    assert choose_datetime([late], None) == late  # no fetch time: only the lower bound applies
