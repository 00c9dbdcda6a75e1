"""Feed documents: parsing RSS 0.9x/1.0/2.0, Atom, RDF and JSON Feed bytes into validated, de-duplicated entries.

Pure functions of a document and its URL; fetching is tasks.feedfetch, canonical URLs tasks.urls.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree, html

from core.dates import parse_iso_datetime
from core.errors import PermanentError
from core.records import FeedEntry, ParsedFeed
from tasks.urls import canonical_url
from tasks.validate import validate_entry

logger = logging.getLogger(__name__)

# Sanitised HTML (no scripts) and links resolved against the feed URL, whatever another library
# importing feedparser may have set globally.
feedparser.SANITIZE_HTML = True
feedparser.RESOLVE_RELATIVE_URIS = True


class NotAFeedError(PermanentError, ValueError):
    """A document that is neither a feed nor something feedparser can make sense of."""


def html_to_text(fragment: str | None) -> str | None:
    """Flatten an HTML fragment (feed summaries, titles) to whitespace-normalised text.

    Args:
        fragment: HTML or plain text.

    Returns:
        The text, or None when empty.
    """
    if not fragment:
        return None
    if "<" in fragment or "&" in fragment:
        try:
            fragment = html.fromstring(f"<div>{fragment}</div>").text_content()
        except (etree.ParserError, ValueError):
            fragment = re.sub(r"<[^>]+>", " ", fragment)
    text = " ".join(fragment.split())
    return text or None


def construct_text(value: Any, detail: Mapping[str, Any] | None) -> str | None:
    """Read a feedparser text construct: plain text literally (a '<' in it is text), anything else as HTML.

    Args:
        value: The construct's value (title, summary).
        detail: feedparser's ``*_detail`` mapping, whose ``type`` says how to read it.

    Returns:
        Whitespace-normalised text, or None.
    """
    if isinstance(value, str) and (detail or {}).get("type") == "text/plain":
        return " ".join(value.split()) or None
    return html_to_text(value)


def _struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _language_code(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _entry_authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        name = html_to_text(author.get("name") if isinstance(author, Mapping) else str(author))
        if name:
            names.append(name)
    if not names and entry.get("author"):
        name = html_to_text(str(entry["author"]))
        if name:
            names.append(name)
    return tuple(dict.fromkeys(names))


def _entry_link(entry: Mapping[str, Any]) -> str | None:
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        return link
    for alt in entry.get("links") or []:
        if alt.get("rel", "alternate") == "alternate" and alt.get("href"):
            return str(alt["href"])
    guid = entry.get("id")
    if isinstance(guid, str) and guid.startswith(("http://", "https://")):
        return guid
    return None


def parse_feed(data: bytes, feed_url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0, Atom or JSON Feed document into entries.

    Args:
        data: The document as served.
        feed_url: Its URL (base for relative links, and the entries' ``feed_url``).
        headers: Response headers (lower-case keys); Content-Type carries the charset.

    Returns:
        The feed's title and entries; ``warning`` says what was wrong where feedparser still coped.

    Raises:
        NotAFeedError: The document is not a feed (an HTML page, an image, garbage).
    """
    headers = dict(headers or {})
    content_type = headers.get("content-type", "").lower()
    if "json" in content_type or data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"["):
        return parse_json_feed(data, feed_url)
    parsed = feedparser.parse(
        data,
        response_headers={**headers, "content-location": feed_url},
        sanitize_html=True,
    )
    version = parsed.get("version") or ""
    feed_info = parsed.get("feed", {})
    if not parsed.entries and not version:
        reason = parsed.get("bozo_exception")
        raise NotAFeedError(f"not a feed: {reason}" if reason else "not a feed (no RSS/Atom/RDF structure)")
    feed_language = _language_code(feed_info.get("language"))
    entries: list[FeedEntry] = []
    for raw in parsed.entries:
        link = _entry_link(raw)
        if not link:
            continue  # nothing to fetch and nothing to identify it by
        summary = raw.get("summary")
        if not summary and raw.get("content"):
            summary = raw["content"][0].get("value")
        entries.append(
            FeedEntry(
                feed_url=feed_url,
                url=canonical_url(link, feed_url),
                link=link,
                guid=(str(raw["id"]).strip() or None) if raw.get("id") else None,
                title=construct_text(raw.get("title"), raw.get("title_detail")),
                summary=html_to_text(summary),
                authors=_entry_authors(raw),
                published_at=_struct_to_datetime(raw.get("published_parsed") or raw.get("updated_parsed")),
                language=_language_code(raw.get("language")) or feed_language,
            )
        )
    warning = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(
        title=construct_text(feed_info.get("title"), feed_info.get("title_detail")),
        entries=_unique_entries(entries),
        language=feed_language,
        warning=warning,
        kind=feed_kind(version),
    )


def feed_kind(version: str) -> str | None:
    """Name the kind of feed behind feedparser's version string.

    Args:
        version: e.g. ``rss20``, ``atom10``, ``rss10`` (feedparser's ``version``).

    Returns:
        ``rss``, ``atom`` or ``rdf`` (RSS 0.90 and 1.0 are RDF documents); None when unknown.
    """
    if version.startswith("atom"):
        return "atom"
    if version in {"rss090", "rss10"}:
        return "rdf"
    return "rss" if version.startswith("rss") else None


def parse_json_feed(data: bytes, feed_url: str) -> ParsedFeed:
    """Parse a JSON Feed (1.0 or 1.1) document.

    Args:
        data: The JSON document.
        feed_url: Its URL.

    Returns:
        The feed's title and entries.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAFeedError(f"not a feed: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise NotAFeedError("not a feed: JSON without an 'items' list")
    feed_language = _language_code(doc.get("language"))
    feed_authors = doc.get("authors") or ([doc["author"]] if isinstance(doc.get("author"), dict) else [])
    entries: list[FeedEntry] = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if not isinstance(link, str) and isinstance(item.get("id"), str) and item["id"].startswith("http"):
            link = item["id"]
        if not isinstance(link, str) or not link.strip():
            continue
        authors_raw = item.get("authors") or (
            [item["author"]] if isinstance(item.get("author"), dict) else []
        )
        authors = tuple(
            name
            for name in (
                html_to_text(a.get("name")) for a in (authors_raw or feed_authors) if isinstance(a, dict)
            )
            if name
        )
        link = urljoin(feed_url, link.strip())  # JSON Feed allows relative URLs
        entries.append(
            FeedEntry(
                feed_url=feed_url,
                url=canonical_url(link, feed_url),
                link=link,
                guid=str(item["id"]) if item.get("id") is not None else None,
                title=html_to_text(item.get("title")) if isinstance(item.get("title"), str) else None,
                summary=html_to_text(
                    item.get("summary") or item.get("content_text") or item.get("content_html")
                ),
                authors=authors,
                published_at=parse_iso_datetime(item.get("date_published") or item.get("date_modified")),
                language=_language_code(item.get("language")) or feed_language,
            )
        )
    title = doc.get("title")
    return ParsedFeed(
        title=html_to_text(title) if isinstance(title, str) else None,
        entries=_unique_entries(entries),
        language=feed_language,
        kind="json",
    )


def _unique_entries(entries: list[FeedEntry]) -> tuple[FeedEntry, ...]:
    # A feed that lists one article twice (e.g. with and without utm_*) must not yield it twice.
    # Every entry's values are checked here, where they become records (tasks/validate.py).
    now = datetime.now(UTC)
    seen: set[str] = set()
    out: list[FeedEntry] = []
    for raw_entry in entries:
        entry = validate_entry(raw_entry, now)
        if entry is not None and entry.url not in seen:
            seen.add(entry.url)
            out.append(entry)
    return tuple(out)
