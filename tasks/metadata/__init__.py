"""Metadata a page states about itself (JSON-LD, OpenGraph, meta tags), read in a fixed order of trust.

One module per concern: :mod:`.jsonld` (JSON-LD objects and meta tags), :mod:`.sites` (the site's own
names), :mod:`.titles`, :mod:`.bylines` and :mod:`.dates`; :func:`read_metadata` puts them together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tasks.metadata.bylines import (
    AUTHOR_KEYS,
    AUTHOR_LABELS,
    authors_from,
    is_person_name,
    jsonld_people,
    labelled_values,
    markup_bylines,
    split_byline,
)
from tasks.metadata.dates import (
    DATE_LABELS,
    MODIFIED_KEYS,
    PUBLISHED_KEYS,
    choose_datetime,
    parse_datetime,
    parse_day_first,
)
from tasks.metadata.jsonld import (
    first_meta,
    is_article,
    jsonld_objects,
    main_article,
    meta_tags,
    terms_of,
    text_of,
)
from tasks.metadata.sites import host_names, is_site_name, site_names_of
from tasks.metadata.titles import TITLE_KEYS, choose_title, clean_title, same_words, visible_headline

__all__ = [
    "PageMetadata",
    "authors_from",
    "choose_datetime",
    "choose_title",
    "clean_title",
    "declared_language_of",
    "host_names",
    "is_article",
    "is_person_name",
    "is_site_name",
    "jsonld_objects",
    "main_article",
    "markup_bylines",
    "meta_tags",
    "parse_datetime",
    "parse_day_first",
    "read_metadata",
    "site_names_of",
    "split_byline",
    "visible_headline",
]


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself, each field from the most trusted source that had it."""

    title: str | None = None
    # The title the page gives search engines and social media, where it differs from the visible headline.
    seo_title: str | None = None
    authors: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    # What the page's byline markup says (rel=author, author links): trusted below the feed entry.
    byline_authors: tuple[str, ...] = ()
    byline_agencies: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    declared_language: str | None = None
    site_name: str | None = None
    description: str | None = None
    article_body: str | None = None
    paywalled: bool | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str | None = None
    site_names: tuple[str, ...] = ()  # every name the site goes by, for cleaning titles and bylines


def declared_language_of(
    tree: Any, meta: Mapping[str, list[str]], article: Mapping[str, Any] | None
) -> str | None:
    """The page's declared language: JSON-LD ``inLanguage``, ``<html lang>``, ``og:locale``, meta language.

    Args:
        tree: The parsed page.
        meta: Its meta tags.
        article: Its JSON-LD article, if any.

    Returns:
        A lower-case ISO 639 code (``nb``, ``de``) or None.
    """
    in_language = article.get("inLanguage") if article is not None else None
    if isinstance(in_language, dict):
        in_language = in_language.get("alternateName") or in_language.get("name")
    root = tree.getroottree().getroot() if tree is not None else None
    for declared in (
        text_of(in_language),
        root.get("lang") if root is not None else None,
        first_meta(meta, ("og:locale", "language", "content-language", "dc.language")),
    ):
        code = (
            re.split(r"[-_]", declared.strip())[0].lower()
            if isinstance(declared, str) and declared.strip()
            else ""
        )
        if re.fullmatch(r"[a-z]{2,3}", code):
            return code
    return None


def read_metadata(tree: Any, url: str | None = None, fetched_at: datetime | None = None) -> PageMetadata:
    """Read everything a page states about itself, each field from its most trusted source.

    Order of trust: the JSON-LD article, then OpenGraph/``article:*`` meta, then other ``<meta>`` tags,
    then ``<title>``. Feed entry and trafilatura come after this, in the caller.

    Args:
        tree: The parsed page (lxml).
        url: The page URL (for choosing the article object and for host names).
        fetched_at: When the page was fetched (no date after it is believed).

    Returns:
        The metadata; fields the page does not state are None or empty.
    """
    objects = jsonld_objects(tree)
    article = main_article(objects, url)
    meta = meta_tags(tree)
    site_names = site_names_of(meta, article, url)
    ld: Mapping[str, Any] = article or {}

    # A ``headline`` meta tag (microdata or plain) states the schema.org headline without JSON-LD.
    titles = [
        text_of(ld.get("headline")),
        first_meta(meta, ("headline",)),
        first_meta(meta, TITLE_KEYS),
        text_of(tree.findtext(".//title")),
    ]
    shared = [
        clean_title(first_meta(meta, (key,)), site_names) or "" for key in ("og:title", "twitter:title")
    ]
    stated_titles = [clean_title(c, site_names) for c in titles]
    seo_title = choose_title(
        stated_titles,
        shown=[" ".join(h.text_content().split()) for h in tree.iter("h1")],
        shared=shared,
    )
    # The headline readers see wins where one of the page's stated titles confirms it: pages state
    # several titles (a longer one for search engines, another for social media), and the one that
    # matches the visible <h1> is the article's headline. An unconfirmed <h1> may be a kicker or teaser.
    shown = visible_headline(tree, site_names)
    title = seo_title
    if shown and any(same_words(shown, t) for t in (*stated_titles, *shared) if t):
        title = shown

    meta_authors = [(a, "text") for key in AUTHOR_KEYS for a in meta.get(key, ())]
    authors, agencies = authors_from(
        [list(jsonld_people(ld.get("author"))) + list(jsonld_people(ld.get("creator"))), meta_authors],
        site_names,
    )
    labelled_authors, labelled_dates = labelled_values(tree, AUTHOR_LABELS, DATE_LABELS)
    byline_authors, byline_agencies = authors_from([markup_bylines(tree, labelled_authors)], site_names)

    published = choose_datetime(
        [parse_datetime(ld.get("datePublished")), parse_datetime(ld.get("dateCreated"))]
        + [parse_datetime(v) for key in PUBLISHED_KEYS for v in meta.get(key, ())]
        # Last: a date the page prints under a label ("Datum 28.04.2023"), day-precise at best.
        + [parse_day_first(v) for v in labelled_dates],
        fetched_at,
    )
    # Modification is reported as the page states it: the fetch guard is about publication, and a page
    # served from a cache may carry a later stamp than our clock saw (left as data, not guessed away).
    modified = choose_datetime(
        [parse_datetime(ld.get("dateModified"))]
        + [parse_datetime(v) for key in MODIFIED_KEYS for v in meta.get(key, ())],
        None,
    )
    free = ld.get("isAccessibleForFree")
    paywalled = None
    if isinstance(free, bool | str):
        paywalled = str(free).strip().lower() in ("false", "0", "no")
    body = ld.get("articleBody")
    image = ld.get("image")
    image = image[0] if isinstance(image, list) and image else image
    image = image.get("url") if isinstance(image, dict) else image
    site_name = next((n for n in site_names if not re.fullmatch(r"[\w.-]+\.[a-z]{2,}", n)), None)
    return PageMetadata(
        title=title,
        seo_title=seo_title if seo_title and title and not same_words(seo_title, title) else None,
        authors=authors,
        agencies=agencies,
        byline_authors=byline_authors,
        byline_agencies=byline_agencies,
        published_at=published,
        modified_at=modified,
        declared_language=declared_language_of(tree, meta, article),
        site_name=first_meta(meta, ("og:site_name",)) or site_name,
        description=text_of(ld.get("description"))
        or first_meta(meta, ("og:description", "description", "twitter:description")),
        article_body=body.strip() if isinstance(body, str) and body.strip() else None,
        paywalled=paywalled,
        categories=terms_of([ld.get("articleSection")], meta, ("article:section",)),
        tags=terms_of([ld.get("keywords")], meta, ("article:tag", "news_keywords", "keywords")),
        image=text_of(image) or first_meta(meta, ("og:image", "twitter:image")),
        site_names=tuple(site_names),
    )
