from datetime import UTC, datetime, timedelta, timezone

from core.dates import parse_iso_datetime


def test_iso_dates_read_as_aware_datetimes():
    assert parse_iso_datetime("2024-10-29T10:30:00Z") == datetime(2024, 10, 29, 10, 30, tzinfo=UTC)
    assert parse_iso_datetime(" 2024-10-29T10:30:00 ") == datetime(2024, 10, 29, 10, 30, tzinfo=UTC)
    plus_two = parse_iso_datetime("2024-10-29T12:30:00+02:00")
    assert plus_two == datetime(2024, 10, 29, 10, 30, tzinfo=UTC)
    assert plus_two is not None and plus_two.utcoffset() == timedelta(hours=2)
    assert parse_iso_datetime("2024-10-29") == datetime(2024, 10, 29, tzinfo=UTC)
    assert parse_iso_datetime("2024-10-29T10:30:00-05:00").tzinfo == timezone(timedelta(hours=-5))


def test_what_is_no_iso_date_reads_as_none():
    for value in (None, "", "  ", "yesterday", "29.10.2024", 1730197800, ["2024-10-29"]):
        assert parse_iso_datetime(value) is None
