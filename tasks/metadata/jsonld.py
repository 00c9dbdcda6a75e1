"""The page's structured statements: JSON-LD objects and ``<meta>`` tags, and reading their values."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from extruct.jsonld import JsonLdExtractor

# schema.org types whose object is the article itself (NewsArticle, ReportageNewsArticle, ... end in "Article").
_ARTICLE_TYPES = frozenset({"BlogPosting", "LiveBlogPosting", "Report", "SocialMediaPosting", "Review"})
_META_KEYS = ("property", "name", "itemprop", "http-equiv")


def jsonld_objects(tree: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object of a page, ``@graph`` and list members included, in document order.

    Args:
        tree: The parsed page (lxml).

    Returns:
        The objects; a script that is not JSON (even with extruct's leniency) is skipped.
    """
    extractor = JsonLdExtractor()
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            items = extractor.extract_items(script)
        except ValueError:  # json and jstyleson both raise ValueError subclasses on broken scripts
            continue
        stack: list[Any] = list(reversed(items))
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                found.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list | dict):
                    stack.extend(reversed(graph) if isinstance(graph, list) else [graph])
    return found


def meta_tags(tree: Any) -> dict[str, list[str]]:
    """Every ``<meta>`` value by lower-case key (``property``, ``name``, ``itemprop``), in page order.

    Args:
        tree: The parsed page (lxml).

    Returns:
        Key to the non-empty values it was given.
    """
    meta: dict[str, list[str]] = {}
    for element in tree.xpath("//meta[@content]"):
        content = " ".join((element.get("content") or "").split())
        if not content:
            continue
        for attribute in _META_KEYS:
            key = (element.get(attribute) or "").strip().lower()
            if key:
                meta.setdefault(key, []).append(content)
    return meta


def types_of(obj: Mapping[str, Any]) -> list[str]:
    """The ``@type`` names of a JSON-LD object, without a schema.org URL prefix."""
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)]


def is_article(obj: Mapping[str, Any]) -> bool:
    """Whether a JSON-LD object describes an article (NewsArticle, ReportageNewsArticle, BlogPosting, ...)."""
    return any(k.endswith("Article") or k in _ARTICLE_TYPES for k in types_of(obj))


def main_article(objects: Sequence[Mapping[str, Any]], url: str | None = None) -> Mapping[str, Any] | None:
    """Pick the JSON-LD object of the page's own article.

    Pages also describe teasers, videos and breadcrumbs; the article whose ``url``/``@id``/``mainEntityOfPage``
    is the page wins, else the first one with a headline, else the first article at all.

    Args:
        objects: The page's JSON-LD objects.
        url: The page URL, if known.

    Returns:
        The object, or None when the page has no article object.
    """
    articles = [o for o in objects if is_article(o)]
    for obj in objects:  # a WebPage whose mainEntity is the article
        entity = obj.get("mainEntity")
        if isinstance(entity, dict) and is_article(entity) and entity not in articles:
            articles.append(entity)
    if not articles:
        return None
    if url:
        wanted = _url_key(url)
        for obj in articles:
            for key in ("url", "@id", "mainEntityOfPage"):
                value = obj.get(key)
                value = value.get("@id") if isinstance(value, dict) else value
                if isinstance(value, str) and _url_key(value) == wanted:
                    return obj
    return next((o for o in articles if text_of(o.get("headline"))), articles[0])


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.netloc.lower().removeprefix('www.')}{parts.path.rstrip('/')}"


def text_of(value: Any) -> str | None:
    """A JSON-LD or meta string, entities decoded and whitespace collapsed (None if empty or not text)."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    cleaned = " ".join(html.unescape(value).split())
    return cleaned or None


def first_meta(meta: Mapping[str, list[str]], keys: Iterable[str]) -> str | None:
    """The first non-empty meta value under the first key that has one."""
    for key in keys:
        for value in meta.get(key, ()):
            text = text_of(value)
            if text:
                return text
    return None


def terms_of(values: Iterable[Any], meta: Mapping[str, list[str]], keys: Iterable[str]) -> tuple[str, ...]:
    """Section or keyword terms from JSON-LD values (string or list), else from meta tags, comma-split."""
    found: list[str] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            found.extend((text_of(item) or "").split(","))
    if not any(t.strip() for t in found):
        found = [part for key in keys for v in meta.get(key, ()) for part in v.split(",")]
    return tuple(dict.fromkeys(t for t in (" ".join(f.split()) for f in found) if t))
