"""Feed lists out: OPML and TOML written from stored feeds (``tasks.feeds`` reads them back in)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from tasks.records import FeedSource
from tasks.sitemaps import SITEMAP_KINDS

# XML 1.0 cannot carry these characters at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def write_opml(
    feeds: Sequence[FeedSource], title: str = "wirehouse feeds", now: datetime | None = None
) -> bytes:
    """Write feeds as OPML 2.0; a ``a/b`` category becomes nested folder outlines.

    Feeds get ``type="rss"`` (what feed readers expect for every feed); sitemap sources keep their own
    kind, which other readers ignore and wirehouse reads back.

    Args:
        feeds: The feeds, in the order wanted (folders appear where their first feed does).
        title: The document title.
        now: The creation date written (default: now).

    Returns:
        The OPML document, UTF-8.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = etree.SubElement(root, "body")
    folders: dict[tuple[str, ...], etree._Element] = {(): body}
    for feed in feeds:
        path = tuple(part for part in (feed.category or "").split("/") if part.strip())
        for depth in range(1, len(path) + 1):
            if path[:depth] not in folders:
                name = _xml_text(path[depth - 1])
                folders[path[:depth]] = etree.SubElement(
                    folders[path[: depth - 1]], "outline", text=name, title=name
                )
        label = _xml_text(feed.title or feed.url)
        outline = etree.SubElement(folders[path], "outline", text=label)
        if feed.title:
            outline.set("title", label)
        outline.set("type", feed.kind if feed.kind in SITEMAP_KINDS else "rss")
        outline.set("xmlUrl", _xml_text(feed.url))
        if feed.html_url:
            outline.set("htmlUrl", _xml_text(feed.html_url))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))


def _toml_string(value: str) -> str:
    # TOML basic string: quote, backslash and control characters escaped, everything else literal.
    escaped = []
    for char in value:
        if char in {'"', "\\"}:
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def write_feed_toml(feeds: Sequence[FeedSource]) -> str:
    """Write feeds as TOML ``[[feed]]`` tables (url, title, category, html_url, kind).

    Args:
        feeds: The feeds.

    Returns:
        The TOML document.
    """
    lines = ["# wirehouse feed list: wirehouse feeds import FILE"]
    for feed in feeds:
        lines += ["", "[[feed]]", f"url = {_toml_string(feed.url)}"]
        for key, value in (
            ("title", feed.title),
            ("category", feed.category),
            ("html_url", feed.html_url),
            ("kind", feed.kind),
        ):
            if value:
                lines.append(f"{key} = {_toml_string(value)}")
    return "\n".join(lines) + "\n"
