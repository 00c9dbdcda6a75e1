"""Validation: every value from the web is checked where it becomes a record, so no absurd value is stored.

A page is written by a stranger: a ``datePublished`` of ``0001-01-01``, a 1 MB author name, a word count of
NaN or invalid UTF-8 must never reach the warehouse (or stop a run that does date arithmetic on it). Each
rule here is one field's range; out-of-range values become None (or are cut), never an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from core.records import Article, FeedEntry, Quote
from tasks.pagetype import PAGE_TYPES

# News on the web starts after this; anything earlier is a placeholder ("0001-01-01") or a parse error.
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
# A page may be stamped a little ahead of our clock (time zones, clock skew), not more.
FUTURE_SLACK = timedelta(days=1)

MAX_URL = 4096  # browsers and servers refuse longer URLs in practice
MAX_TITLE = 1_000
MAX_SHORT = 300  # names, site names, categories, places, content types
MAX_DESCRIPTION = 10_000
MAX_TEXT = 1_000_000  # ~150,000 words: longer than any article; a page that big is not one article
MAX_GUID = 1_000
MAX_LIST = 50  # authors, tags, categories, keywords per article
MAX_QUOTES = 500
MAX_LANGUAGE = 35  # the longest BCP 47 tag a registry allows
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
# C0 controls other than tab/newline/carriage return: invisible, and some tools choke on them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
# A start tag of more than this many bytes is looked at closely (real tags are far shorter, bar data: URIs).
_LONG_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9:-]*)([^<>]{4096,})>")
_ATTRIBUTE = re.compile(rb"""[\s"'][^\s"'=<>/]+\s*=""")
# No element of a real page has this many attributes; libxml2's parse time grows with their square.
MAX_ATTRIBUTES = 1_000


def clean_text(value: str | None, limit: int, *, one_line: bool = False) -> str | None:
    """Make a string safe to store: valid UTF-8, no control characters, at most ``limit`` characters.

    Args:
        value: The string as extracted.
        limit: Maximum length in characters.
        one_line: Collapse all whitespace (titles, names); otherwise keep line breaks (body text).

    Returns:
        The cleaned string, or None where nothing is left.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    # Lone surrogates (from undecodable bytes) cannot be encoded as UTF-8: Arrow and DuckDB reject them.
    value = value.encode("utf-8", "replace").decode("utf-8")
    value = _CONTROLS.sub("", value)
    if one_line:
        value = _SPACES.sub(" ", value)
    value = value.strip()[:limit].strip()
    return value or None


def defuse_html(body: bytes) -> bytes:
    """Drop the attributes of any element that has absurdly many, before the page is parsed.

    Args:
        body: The page as served.

    Returns:
        The page, byte for byte, unless an element had more than ``MAX_ATTRIBUTES`` attributes.
    """

    def strip(match: re.Match[bytes]) -> bytes:
        if len(_ATTRIBUTE.findall(match.group(2))) <= MAX_ATTRIBUTES:
            return match.group(0)
        return b"<" + match.group(1) + b">"

    return _LONG_TAG.sub(strip, body) if b"<" in body else body


def clean_list(values: tuple[str, ...], limit: int = MAX_SHORT) -> tuple[str, ...]:
    """Clean each string of a list, drop empties and repeats, keep at most ``MAX_LIST``.

    Args:
        values: Names, tags or keywords.
        limit: Maximum length of each.

    Returns:
        The cleaned tuple, order kept.
    """
    seen: dict[str, None] = {}
    for value in values:
        cleaned = clean_text(value, limit, one_line=True)
        if cleaned:
            seen.setdefault(cleaned, None)
        if len(seen) >= MAX_LIST:
            break
    return tuple(seen)


def plausible_date(value: datetime | None, fetched_at: datetime) -> datetime | None:
    """A publication or modification date if it is plausible for a page fetched at ``fetched_at``.

    Args:
        value: The date as extracted (naive values are taken as UTC).
        fetched_at: When the page was fetched.

    Returns:
        The date (time-zone aware), or None when it is before 1990 or more than a day after the fetch.
    """
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    reference = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    try:
        if aware < EARLIEST_DATE or aware > reference + FUTURE_SLACK:
            return None
    except OverflowError:  # reference within a day of datetime.max
        return None
    return aware


def clean_url(value: str | None) -> str | None:
    """An http(s) URL with a host, at most ``MAX_URL`` characters, or None.

    Args:
        value: A URL from a page or a header.

    Returns:
        The URL, stripped, or None where it is not a usable web address.
    """
    value = clean_text(value, MAX_URL + 1, one_line=True)
    if value is None or len(value) > MAX_URL:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def clean_number(value: float | None, low: float, high: float) -> float | None:
    """A finite number within ``[low, high]``, or None.

    Args:
        value: The number.
        low: Smallest allowed value.
        high: Largest allowed value.

    Returns:
        The number, or None when it is NaN, infinite or out of range.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or number < low or number > high:
        return None
    return number


def _clean_count(value: int, high: int = 10_000_000) -> int:
    number = clean_number(value, 0, high)
    return int(number) if number is not None else 0


def _clean_language(value: str | None) -> str | None:
    value = clean_text(value, MAX_LANGUAGE, one_line=True)
    return value if value and _LANGUAGE.match(value) else None


def _clean_quotes(quotes: tuple[Quote, ...], text: str | None) -> tuple[Quote, ...]:
    size = len(text or "")
    return tuple(q for q in quotes if 0 <= q.start < q.end <= size)[:MAX_QUOTES]


def _unit(value: float | None) -> float | None:
    """A score kept only where it is a number from 0 to 1."""
    if value is None or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return None
    return value


def validate_article(article: Article) -> Article:
    """Check every field that came from the web and drop or cut what is out of range.

    Args:
        article: An extracted (and possibly enriched) article.

    Returns:
        The same article with every value within its range; identical where nothing was wrong.
    """
    text = clean_text(article.text, MAX_TEXT)
    fetched_at = article.fetched_at if article.fetched_at.tzinfo else article.fetched_at.replace(tzinfo=UTC)
    status = clean_number(article.http_status, 100, 599)
    confidence = clean_number(article.language_confidence, 0.0, 1.0)
    reading = clean_number(article.reading_time_min, 0.0, 100_000.0)
    return replace(
        article,
        guid=clean_text(article.guid, MAX_GUID, one_line=True),
        title=clean_text(article.title, MAX_TITLE, one_line=True),
        seo_title=clean_text(article.seo_title, MAX_TITLE, one_line=True),
        page_type=article.page_type if article.page_type in PAGE_TYPES else None,
        extraction_confidence=_unit(article.extraction_confidence),
        text=text,
        extraction_error=clean_text(article.extraction_error, MAX_DESCRIPTION),
        http_status=int(status) if status is not None else None,
        final_url=clean_url(article.final_url),
        content_type=clean_text(article.content_type, MAX_SHORT, one_line=True),
        description=clean_text(article.description, MAX_DESCRIPTION),
        authors=clean_list(article.authors),
        published_at=plausible_date(article.published_at, fetched_at),
        modified_at=plausible_date(article.modified_at, fetched_at),
        site_name=clean_text(article.site_name, MAX_SHORT, one_line=True),
        categories=clean_list(article.categories),
        tags=clean_list(article.tags),
        image=clean_url(article.image),
        declared_language=_clean_language(article.declared_language),
        language=_clean_language(article.language),
        language_confidence=confidence,
        word_count=_clean_count(article.word_count),
        reading_time_min=reading if reading is not None else 0.0,
        agencies=clean_list(article.agencies),
        dateline_place=clean_text(article.dateline_place, MAX_SHORT, one_line=True),
        title_language=_clean_language(article.title_language),
        keywords=clean_list(article.keywords),
        paragraph_count=_clean_count(article.paragraph_count),
        quotes=_clean_quotes(article.quotes, text) if text == article.text else (),
        charset=clean_text(article.charset, 64, one_line=True),
        # An archive's record: its file name and WARC-Record-ID come from the file, like any web value.
        source_file=clean_text(article.source_file, MAX_DESCRIPTION, one_line=True),
        source_record=clean_text(article.source_record, MAX_SHORT, one_line=True),
        source_offset=article.source_offset
        if article.source_offset is None or article.source_offset >= 0
        else None,
    )


def validate_entry(entry: FeedEntry, fetched_at: datetime) -> FeedEntry | None:
    """Check a feed entry's values; an entry without a usable link is dropped.

    Args:
        entry: The entry as parsed from a feed.
        fetched_at: When the feed was fetched.

    Returns:
        The entry with every value in range, or None when its URL is not an http(s) URL.
    """
    url = clean_url(entry.url)
    if url is None:  # javascript:, mailto:, ftp:, data: ... nothing a news page lives at
        return None
    return replace(
        entry,
        url=url,
        link=clean_url(entry.link) or url,  # a relative link is fetched at its resolved URL
        guid=clean_text(entry.guid, MAX_GUID, one_line=True),
        title=clean_text(entry.title, MAX_TITLE, one_line=True),
        summary=clean_text(entry.summary, MAX_DESCRIPTION),
        authors=clean_list(entry.authors),
        published_at=plausible_date(entry.published_at, fetched_at),
        language=_clean_language(entry.language),
    )
