"""Dates: publication and modification as the page states them, checked against when it was fetched."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from tasks.metadata.jsonld import text_of
from tasks.metadata.sites import fold

# No news page on the web is older than this: earlier stated dates are placeholders or typos.
EARLIEST = datetime(1990, 1, 1)
PUBLISHED_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "date",
    "dc.date",
    "pubdate",
    "publishdate",
    "publish-date",
    "parsely-pub-date",
    "sailthru.date",
)
MODIFIED_KEYS = (
    "article:modified_time",
    "og:article:modified_time",
    "og:updated_time",
    "datemodified",
    "dcterms.modified",
    "last-modified",
)
_DOTTED_DATE = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})\b(?:\D{1,4}(\d{1,2})[:.](\d{2})\b)?")
# Label words before a publication date, folded (not "Stand" or "Updated": those date a later revision).
DATE_LABELS = frozenset(
    fold(w)
    for w in (
        *("Datum", "Date", "Published", "Publié", "Publiée", "Veröffentlicht", "Erschienen", "Fecha"),
        *("Publicado", "Publicada", "Data", "Pubblicato", "Tarih", "Yayınlanma", "Publisert", "Dato"),
    )
)


def parse_datetime(value: Any) -> datetime | None:
    """Read an ISO 8601 (or RFC 2822) date-time as stated; naive when the page gave no offset.

    Args:
        value: The text.

    Returns:
        The datetime, or None when it is not one.
    """
    text = text_of(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def parse_day_first(value: str | None) -> datetime | None:
    """Read a written date as pages print it: ISO, or day-first with dots ("28.04.2023, 14:05 Uhr").

    Dots mark the day-month-year order used across Europe; slashed dates ("04/05/2023") are left unread,
    as they are day-first in some countries and month-first in others.

    Args:
        value: The text.

    Returns:
        A naive datetime (midnight when no time is given), or None.
    """
    stated = parse_datetime(value)
    if stated is not None:
        return stated
    match = _DOTTED_DATE.search(value or "")
    if not match:
        return None
    day, month, year, hour, minute = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def plausible(value: datetime, fetched_at: datetime | None) -> bool:
    """Whether a stated date-time lies where a news page's date can: from 1990 to a day after the fetch.

    Compared on wall time, so that a placeholder such as ``0001-01-01T00:00:00+01:00`` is refused before any
    offset arithmetic (which would fall off the calendar's end); the exact "not after the fetch" test
    comes later, in :func:`choose_datetime`.

    Args:
        value: The stated date-time, naive or aware.
        fetched_at: When the page was fetched (no upper bound where unknown).
    """
    wall = value.replace(tzinfo=None)
    if wall < EARLIEST:
        return False
    return fetched_at is None or wall <= fetched_at.replace(tzinfo=None) + timedelta(days=1)


def choose_datetime(candidates: Iterable[datetime | None], fetched_at: datetime | None) -> datetime | None:
    """The first plausible date-time, made aware in the page's own offset.

    A value outside the plausible range (see :func:`plausible`: CMS placeholders such as 0001-01-01, a year
    9999) gives way to the next source. A naive value takes the offset another statement on the page gives
    for the same wall time, else that of any other dated statement of the page, else UTC. A value after the
    fetch cannot be a publication (a wrong offset or a template's "now"), and one within a minute of the
    fetch is the page's render time.

    Args:
        candidates: Parsed values in order of trust (None where a source had none).
        fetched_at: When the page was fetched.

    Returns:
        The aware datetime, or None.
    """
    values = [c for c in candidates if c is not None and plausible(c, fetched_at)]
    offsets = [c.tzinfo for c in values if c.tzinfo is not None]
    for value in values:
        aware = value
        if value.tzinfo is None:
            same = next(
                (c.tzinfo for c in values if c.tzinfo is not None and c.replace(tzinfo=None) == value), None
            )
            aware = value.replace(tzinfo=same or (offsets[0] if offsets else UTC))
        if fetched_at is not None and (aware > fetched_at or abs(aware - fetched_at) < timedelta(minutes=1)):
            continue
        return aware
    return None
