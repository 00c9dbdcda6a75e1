"""Dates."""

from datetime import datetime, timedelta

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
