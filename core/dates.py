"""ISO 8601 date-times read as aware datetimes (a feed's dates, a WARC-Date)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso_datetime(value: object) -> datetime | None:
    """Read an ISO 8601 date-time; "Z" is UTC, and so is a date-time without an offset.

    Args:
        value: The text (anything else, e.g. a JSON number, reads as no date).

    Returns:
        An aware datetime, or None where absent or unreadable.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
