"""Feed lists: OPML, TOML and URL lists read in, OPML and TOML written out from stored feeds."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from core.errors import PermanentError
from core.records import FeedSource
from tasks.sitemaps import SITEMAP_KINDS

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


def parse_feed_toml(text: str, name: str = "feed list") -> list[FeedSource]:
    """Read feeds from TOML: ``[[feed]]`` tables (url, title, category, html_url) or ``feeds = [urls]``.

    Args:
        text: The TOML document.
        name: Where it came from, for messages.

    Returns:
        Feeds in document order, without duplicates.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts the position at the end of its message ("(at line 3, column 5)").
        message = str(exc)
        position = _TOML_POSITION.search(message)
        where = f"{name} line {position.group(1)}" if position and position.group(1) else name
        reason = message[: position.start()] if position else message
        raise FeedListError(f"{where}: not valid TOML: {reason}") from exc
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


# A TOML line opens a table or sets a key; a key is never a URL (no ':', '/' or '?' before the '=').
_TOML_LINE = re.compile(r"\[|[^\s:/?=#\[][^:/?=]*=")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$|\s*\(at end of document\)$")
_ATOM = "{http://www.w3.org/2005/Atom}"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_FEED_ROOTS = {"rss": "RSS", "feed": "Atom", "RDF": "RDF"}
_JSON_FEED_VERSION = "https://jsonfeed.org/version/"


def sniff_feed_list(data: bytes) -> str:
    """Tell what a feed list file is from its content: ``xml``, ``json``, ``toml`` or ``urls``.

    XML is an OPML list or a single feed (RSS, Atom, RDF) and JSON a JSON Feed; a text file is TOML
    when its first line that is not blank or a comment opens a table or sets a key, else a URL list.

    Args:
        data: The file's bytes.

    Returns:
        The format's name.
    """
    text = data.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("<"):
        return "xml"
    if text.startswith("{"):  # TOML cannot start with an inline table
        return "json"
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return "toml" if _TOML_LINE.match(line) else "urls"
    return "urls"


def parse_feed_list(data: bytes, name: str = "feed list", url: str | None = None) -> list[FeedSource]:
    """Read a feed list in any supported format (OPML, TOML, one URL per line, a single feed), by content.

    Args:
        data: The file's bytes.
        name: Where it came from, for messages.
        url: The URL it was downloaded from: a single feed is subscribed to by it.

    Returns:
        The feeds it lists (at least one).
    """
    kind = sniff_feed_list(data)
    text = data.decode("utf-8-sig", errors="replace")
    if kind == "xml":
        feeds = _parse_xml_list(data, name, url)
    elif kind == "json":
        feeds = [_json_feed_source(text, name, url)]
    elif kind == "toml":
        feeds = parse_feed_toml(text, name)
    else:
        feeds = _parse_url_list(text, name)
    if not feeds:
        raise FeedListError(f"{name} lists no feeds")
    return feeds


def _parse_url_list(text: str, name: str) -> list[FeedSource]:
    feeds = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # A '#' after whitespace starts a comment; one inside a URL is its fragment.
        line = re.split(r"\s#", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        shown = line[:100]
        if len(line.split()) > 1:
            raise FeedListError(
                f"{name} line {number}: not a URL: {shown!r} (expected one URL per line; # starts a comment)"
            )
        parts = urlsplit(line)
        if not parts.scheme or "." in parts.scheme:
            raise FeedListError(
                f"{name} line {number}: not a URL: {shown!r} (expected one http:// or https:// URL per line)"
            )
        if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
            raise FeedListError(
                f"{name} line {number}: {shown!r} is not an http(s) URL "
                "(a feed list names only http:// and https:// feeds)"
            )
        feeds.append(FeedSource(url=line))
    return _validated(feeds)


def _parse_xml_list(data: bytes, name: str, url: str | None) -> list[FeedSource]:
    try:
        return parse_opml(data)
    except FeedListError:
        root = _xml_root(data)
        if root is None or root.tag.lower() == "opml":
            raise
    local = etree.QName(root).localname
    if local not in _FEED_ROOTS:
        raise FeedListError(
            f"{name}: not an OPML document or a feed (root element is <{local}>; expected <opml>, "
            "<rss>, Atom <feed> or <rdf:RDF>)"
        )
    what = _FEED_ROOTS[local]
    if local == "rss":
        channel = root.find("channel")
        title = channel.findtext("title") if channel is not None else None
        links = channel.findall(f"{_ATOM}link") if channel is not None else []
        home = channel.findtext("link") if channel is not None else None
    elif local == "feed":
        title, links = root.findtext(f"{_ATOM}title"), root.findall(f"{_ATOM}link")
        home = next((a.get("href") for a in links if a.get("rel", "alternate") == "alternate"), None)
    else:
        channel = root.find("{http://purl.org/rss/1.0/}channel")
        title = channel.findtext("{http://purl.org/rss/1.0/}title") if channel is not None else None
        links = []
        home = channel.findtext("{http://purl.org/rss/1.0/}link") if channel is not None else None
        if channel is not None and channel.get(f"{_RDF}about") and url is None:
            url = channel.get(f"{_RDF}about")  # RSS 1.0 names its channel by the feed's URL
    self_link = next((a.get("href") for a in links if a.get("rel") == "self" and a.get("href")), None)
    return [_single_feed(what, url or self_link, title, home, name)]


def _xml_root(data: bytes) -> Any:
    if re.search(rb"<!ENTITY", data[:65536], re.IGNORECASE):
        return None  # refused like in an OPML list, for the same reasons
    try:
        return etree.fromstring(data, parser=_safe_xml_parser())
    except etree.XMLSyntaxError:
        return None


def _json_feed_source(text: str, name: str, url: str | None) -> FeedSource:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FeedListError(f"{name}: not valid JSON: {exc}") from exc
    if not (isinstance(doc, dict) and str(doc.get("version", "")).startswith(_JSON_FEED_VERSION)):
        raise FeedListError(
            f'{name}: JSON that is not a JSON Feed (expected "version": "{_JSON_FEED_VERSION}1.1")'
        )

    def text_of(key: str) -> str | None:
        value = doc.get(key)
        return value if isinstance(value, str) else None

    return _single_feed(
        "JSON Feed", url or text_of("feed_url"), text_of("title"), text_of("home_page_url"), name
    )


def _single_feed(what: str, url: str | None, title: str | None, home: str | None, name: str) -> FeedSource:
    if not url:
        raise FeedListError(
            f'{name} is a single feed ({what}) that names no URL of its own (no rel="self" link);'
            " give the feed's URL instead of the file"
        )
    feeds = _validated([FeedSource(url=url.strip(), title=(title or "").strip() or None, html_url=home)])
    return feeds[0]


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
