"""The sample newsroom's dates, moved to the day it is served: the demo's news is always today's news.

The pages were written for one week in March 2025. Served as they are, "today" queries, the wire-copy
window and date-dependent features would show nothing on any later day; served shifted by whole days,
every date keeps its time of day and its distance to the others.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

# The newest day any sample page or feed states; it becomes the day the sample is served.
SAMPLE_DAY = date(2025, 3, 14)

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
}
_MONTH_NAMES = {lang: names.split() for lang, names in _MONTHS.items()}
_NUMBER_OF = {name.lower(): i + 1 for names in _MONTH_NAMES.values() for i, name in enumerate(names)}
_ALTERNATION = "|".join(sorted(_NUMBER_OF, key=len, reverse=True))
_RFC_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_RFC_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

_ISO = re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)(?!\d)")
_RFC822 = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (" + "|".join(_RFC_MONTHS) + r") (20\d\d)\b"
)
_DOTTED = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(20\d\d)\b")
# "14 March 2025", "14. März 2025", "14 de marzo de 2025", "14 mars 2025"
_DAY_MONTH = re.compile(
    r"\b(\d{1,2})(\.?\s+(?:de\s+)?)(" + _ALTERNATION + r")(\s+(?:de\s+)?)(20\d\d)\b", re.I
)
# "March 14, 2025"
_MONTH_DAY = re.compile(r"\b(" + _ALTERNATION + r")\s+(\d{1,2}),\s+(20\d\d)\b", re.I)


def days_to_today(today: date | None = None) -> int:
    """Days to add to the sample's dates so that its newest day is ``today``.

    Args:
        today: The serving day (default: today in UTC).

    Returns:
        The shift in whole days.
    """
    return ((today or datetime.now(UTC).date()) - SAMPLE_DAY).days


def _month_name(original: str, month: int, language: str | None) -> str:
    """The name of ``month`` in the language and capitalisation of ``original`` ("marzo": es or it)."""
    ordered = sorted(_MONTH_NAMES.items(), key=lambda item: item[0] != language)
    for _, names in ordered:
        if original.lower() in (n.lower() for n in names):
            name = names[month - 1]
            return name.capitalize() if original[:1].isupper() else name.lower()
    return original


def shift_dates(text: str, days: int, language: str | None = None) -> str:
    """Move every date written in ``text`` by ``days`` days (ISO, RFC 822, numeric and spelled out).

    Args:
        text: A page or feed of the sample newsroom.
        days: The shift.
        language: The text's language, for month names that two languages share.

    Returns:
        The text with its dates moved; everything else unchanged.
    """
    if days == 0:
        return text
    shift = timedelta(days=days)

    def iso(m: re.Match[str]) -> str:
        moved = date(int(m[1]), int(m[2]), int(m[3])) + shift
        return moved.isoformat()

    def rfc(m: re.Match[str]) -> str:
        moved = date(int(m[3]), _RFC_MONTHS.index(m[2]) + 1, int(m[1])) + shift
        return f"{_RFC_DAYS[moved.weekday()]}, {moved.day:02d} {_RFC_MONTHS[moved.month - 1]} {moved.year}"

    def dotted(m: re.Match[str]) -> str:
        moved = date(int(m[3]), int(m[2]), int(m[1])) + shift
        return f"{moved.day:0{len(m[1])}d}.{moved.month:0{len(m[2])}d}.{moved.year}"

    def day_month(m: re.Match[str]) -> str:
        moved = date(int(m[5]), _NUMBER_OF[m[3].lower()], int(m[1])) + shift
        return f"{moved.day}{m[2]}{_month_name(m[3], moved.month, language)}{m[4]}{moved.year}"

    def month_day(m: re.Match[str]) -> str:
        moved = date(int(m[3]), _NUMBER_OF[m[1].lower()], int(m[2])) + shift
        return f"{_month_name(m[1], moved.month, language)} {moved.day}, {moved.year}"

    for pattern, move in ((_ISO, iso), (_RFC822, rfc), (_DOTTED, dotted), (_DAY_MONTH, day_month)):
        text = pattern.sub(move, text)
    return _MONTH_DAY.sub(month_day, text)
