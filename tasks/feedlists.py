"""Feed lists: OPML, TOML and URL lists read in, OPML and TOML written out from stored feeds."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from tasks.records import FeedSource
from tasks.sitemaps import SITEMAP_KINDS
from wirehouse.errors import PermanentError

# --------------------------------------------------------------------------- reading


class FeedListError(PermanentError, ValueError):
    """A feed list (OPML/TOML/URL list) that cannot be read."""


def _safe_xml_parser() -> etree.XMLParser:
    # No entity expansion, no network, no DTD loading: OPML and feeds come from strangers.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )


def parse_opml(data: bytes) -> list[FeedSource]:
    """Read the feeds of an OPML document; nested outlines become a ``a/b`` category.

    Args:
        data: The OPML document.

    Returns:
        Feeds in document order, without duplicates.
    """
    if re.search(rb"<!ENTITY", data[:65536], re.IGNORECASE):
        # OPML never needs entity declarations; refusing them stops billion-laughs and XXE outright.
        raise FeedListError("OPML with <!ENTITY> declarations is refused")
    try:
        root = etree.fromstring(data, parser=_safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise FeedListError(f"not well-formed OPML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise FeedListError(f"not an OPML document (root element is <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise FeedListError("OPML has no <body>")
    feeds: list[FeedSource] = []

    def walk(element: Any, path: tuple[str, ...]) -> None:
        for outline in element.iterchildren("outline"):
            attrs = {k.lower(): v.strip() for k, v in outline.attrib.items()}
            label = attrs.get("title") or attrs.get("text")
            if attrs.get("xmlurl"):
                feeds.append(
                    FeedSource(
                        url=attrs["xmlurl"],
                        # A label that only repeats the URL (what writers put where there is no title) is none.
                        title=label if label and label != attrs["xmlurl"] else None,
                        html_url=attrs.get("htmlurl") or None,
                        category="/".join(path) or None,
                        kind=_listed_kind(attrs.get("type")),
                    )
                )
            walk(outline, (*path, label) if label and not attrs.get("xmlurl") else path)

    walk(body, ())
    return _validated(feeds)


def parse_feed_toml(text: str) -> list[FeedSource]:
    """Read feeds from TOML: ``[[feed]]`` tables (url, title, category, html_url) or ``feeds = [urls]``.

    Args:
        text: The TOML document.

    Returns:
        Feeds in document order, without duplicates.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FeedListError(f"not valid TOML: {exc}") from exc
    items = doc.get("feed", doc.get("feeds", []))
    if not isinstance(items, list):
        raise FeedListError("TOML feed list needs [[feed]] tables or feeds = [...]")
    feeds: list[FeedSource] = []
    for item in items:
        if isinstance(item, str):
            feeds.append(FeedSource(url=item))
        elif isinstance(item, Mapping) and isinstance(item.get("url"), str):
            feeds.append(
                FeedSource(
                    url=item["url"],
                    title=item.get("title"),
                    html_url=item.get("html_url"),
                    category=item.get("category"),
                    kind=_listed_kind(item.get("kind")),
                )
            )
        else:
            raise FeedListError(f"feed entry without a url: {item!r}")
    return _validated(feeds)


def _listed_kind(value: object) -> str | None:
    # Only sitemap kinds are taken from a list: readers write type="rss" for Atom feeds too, and a
    # feed's own kind is found out on its first fetch anyway.
    kind = value.strip().lower() if isinstance(value, str) else None
    return kind if kind in SITEMAP_KINDS else None


def parse_feed_list(data: bytes, name: str = "feed list") -> list[FeedSource]:
    """Read a feed list in any supported format (OPML, TOML, one URL per line), detected from content.

    Args:
        data: The file's bytes.
        name: Where it came from, for messages.

    Returns:
        The feeds it lists (at least one).
    """
    text = data.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        feeds = parse_opml(data)
    else:
        lines = [
            (number, line.strip())
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.strip().startswith("#")
        ]
        # One token per line, none a TOML key or table: a URL list, whatever its schemes (TOML needs `=`).
        if lines and all(re.fullmatch(r"[^\s=\[]\S*", line) for _, line in lines):
            for number, line in lines:
                parts = urlsplit(line)
                if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
                    raise FeedListError(
                        f"{name} line {number}: {line[:100]!r} is not an http(s) URL "
                        "(a feed list names only http:// and https:// feeds)"
                    )
            feeds = _validated([FeedSource(url=line) for _, line in lines])
        else:
            feeds = parse_feed_toml(text)
    if not feeds:
        raise FeedListError(f"{name} lists no feeds")
    return feeds


def _validated(feeds: list[FeedSource]) -> list[FeedSource]:
    seen: set[str] = set()
    out: list[FeedSource] = []
    for feed in feeds:
        parts = urlsplit(feed.url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise FeedListError(f"feed URL is not http(s): {feed.url!r}")
        if feed.url not in seen:
            seen.add(feed.url)
            out.append(feed)
    return out


# --------------------------------------------------------------------------- writing


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
