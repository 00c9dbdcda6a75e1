"""Extract: article pages (HTML bytes) to text and metadata with trafilatura, falling back to the feed entry.

Decoding the bytes is tasks.charsets, pruning page furniture tasks.furniture, and the body's rules
tasks.bodytext (their names importable from here as before); here: the metadata and the article.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lxml import html as lxml_html
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_metadata
from trafilatura.utils import load_html

from core.records import Article, FeedEntry, Page
from tasks.bodytext import COMPLETE_SHARE as COMPLETE_SHARE
from tasks.bodytext import EMBEDDED_MIN_PARAGRAPHS as EMBEDDED_MIN_PARAGRAPHS
from tasks.bodytext import HEADING_WORDS as HEADING_WORDS
from tasks.bodytext import MIN_ARTICLE_WORDS as MIN_ARTICLE_WORDS
from tasks.bodytext import SAME_PART_SHARE as SAME_PART_SHARE
from tasks.bodytext import cross_check_body as cross_check_body
from tasks.bodytext import drop_leading_title as drop_leading_title
from tasks.bodytext import embedded_article_html as embedded_article_html
from tasks.bodytext import extract_body as extract_body
from tasks.bodytext import reconcile_body as reconcile_body
from tasks.bodytext import text_words, trafilatura_text
from tasks.charsets import decode_html as decode_html
from tasks.confidence import extraction_confidence
from tasks.enrich.stats import count_words
from tasks.furniture import BOX_MAX_PROSE_SHARE as BOX_MAX_PROSE_SHARE
from tasks.furniture import LINK_LIST_MIN_ITEMS as LINK_LIST_MIN_ITEMS
from tasks.furniture import LINK_SHARE as LINK_SHARE
from tasks.furniture import prose_words
from tasks.furniture import prune_furniture as prune_furniture
from tasks.metadata import PageMetadata, choose_datetime, clean_title, read_metadata, split_byline
from tasks.metadata.jsonld import first_meta, jsonld_objects, meta_tags
from tasks.pagetype import WALL_MAX_WORDS, asks_for_login, page_type, read_signs, wall_kind, with_wall_signs

logger = logging.getLogger(__name__)
# trafilatura warns on every thin page; the outcome is recorded per row in extraction_status instead.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
# A page with a password field and less text than this is a login wall (articles with a login box in
# the header are longer).
LOGIN_PAGE_MAX_WORDS = 150
# Rule families that go beyond plain trafilatura, each one switchable so that the quality bench can measure
# what it adds on pages it was not written for (`python -m bench.quality` prints a leave-one-country-out
# table). Production always runs with all of them.
BODY_RULES = frozenset({"pruning", "cross_check", "leading_title", "embedded", "safety_net"})


def page_metadata(tree: Any) -> dict[str, Any]:
    """Read the dates and language a page states about itself (see :func:`tasks.metadata.read_metadata`).

    Args:
        tree: The parsed page (lxml).

    Returns:
        Keys ``published_at``, ``modified_at`` (aware datetimes) and ``declared_language``, where present.
    """
    stated = read_metadata(tree)
    found = {
        "published_at": stated.published_at,
        "modified_at": stated.modified_at,
        "declared_language": stated.declared_language,
    }
    return {k: v for k, v in found.items() if v is not None}


def fallback_article(page: Page, status: str, error: str | None) -> Article:
    """Build an article from the feed entry alone (used when the page could not be fetched or read).

    Args:
        page: The page record (possibly without body).
        status: ``extraction_status`` to store, e.g. ``fetch_failed``.
        error: Why, in words.

    Returns:
        The article with the feed's title and summary as its text.
    """
    entry: FeedEntry = page.entry
    return Article(
        url=entry.url,
        feed_url=entry.feed_url,
        link=entry.link,
        guid=entry.guid,
        title=entry.title,
        text=entry.summary,
        description=entry.summary,
        authors=entry.authors,
        published_at=entry.published_at,
        fetched_at=page.fetched_at,
        extraction_status=status,
        extraction_error=error,
        http_status=page.http_status,
        final_url=page.final_url,
        content_type=page.content_type,
        declared_language=entry.language,
        retryable=page.retryable,
        charset=page.charset,
        raw_html=page.body if status not in ("fetch_failed", "not_html") else None,
        extraction_confidence=0.0,  # the feed's words stand in: nothing extracted to trust
    )


def _recase(name: str, source: str) -> str:
    """Undo trafilatura's title-casing ("Dpa", "Mdr De") by finding the name as the page wrote it."""
    if len(name) > 200:  # no name is that long; searching a page for a huge one takes minutes
        return name
    match = re.search(re.escape(name), source, re.IGNORECASE)
    return match.group(0) if match else name


def _fallback_authors(
    entry: FeedEntry, stated: PageMetadata, byline: str | None, page_text: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Authors where the page's metadata named none: the feed entry's, the byline markup's, trafilatura's."""
    site_names = stated.site_names
    agencies: list[str] = []
    for author in entry.authors:
        names, codes = split_byline(author, site_names)
        agencies.extend(codes)
        if names:
            return tuple(names), tuple(agencies)
    agencies.extend(stated.byline_agencies)
    if stated.byline_authors:
        return stated.byline_authors, tuple(agencies)
    if byline:
        # trafilatura title-cases what it finds and joins names with "; ".
        for part in byline.split(";"):
            names, codes = split_byline(_recase(part.strip(), page_text), site_names)
            agencies.extend(codes)
            # Its byline guess also catches places and initials: better no author than a wrong one.
            if names and all(len(n.split()) >= 2 for n in names):
                return tuple(names), tuple(agencies)
    return (), tuple(agencies)


def _day_to_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def guess_author(tree: Any) -> str | None:
    """The author trafilatura would guess, by the same steps ``extract_metadata`` takes for it, and nothing else.

    Args:
        tree: The parsed page (not pruned: its byline may sit in what pruning removes).

    Returns:
        The author string trafilatura would report, or None.
    """
    if tree is None:
        return None
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:  # as extract_metadata: one word is no name
        metadata.author = None
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception as exc:  # as extract_metadata does: bugs in trafilatura's JSON-LD reader
        logger.debug("trafilatura's JSON-LD reader failed: %s", exc)
    return metadata.author or extract_author(tree)


def extract_article(page: Page, rules: frozenset[str] = BODY_RULES) -> Article:
    """Extract one fetched page into an article; never raises for a bad page.

    Metadata comes from the page (JSON-LD, then OpenGraph and meta tags), then the feed entry, then
    trafilatura's guesses; the body from trafilatura, cross-checked with JSON-LD ``articleBody``, and
    never far from what trafilatura alone finds (see :func:`reconcile_body`).

    Args:
        page: The fetched page with its feed entry.
        rules: The body rule families to apply (:data:`BODY_RULES`; fewer only to measure them).

    Returns:
        The article; ``extraction_status`` is ``ok`` or says why the feed entry was used instead
        (``fetch_failed``, ``http_error``, ``not_html``, ``login_page``, ``consent_wall``, ``paywall``,
        ``listing``, ``error_page``, ``no_text``, ``error``); ``page_type`` what the page is.
    """
    if page.body is None or page.error:
        return fallback_article(page, "fetch_failed", page.error or "no response")
    if page.http_status is not None and page.http_status >= 400:
        return replace(fallback_article(page, "http_error", f"HTTP {page.http_status}"), page_type="error")
    if (page.content_type or "") not in HTML_TYPES:
        return fallback_article(page, "not_html", f"content type {page.content_type}")
    entry = page.entry
    url = page.final_url or entry.url
    try:
        source = decode_html(page.body, page.charset)
        tree = load_html(source)
        if tree is None:
            return fallback_article(page, "no_text", "page is not parseable HTML")
        stated = read_metadata(tree, url, page.fetched_at)
        asks_password = asks_for_login(tree)
        prose = prose_words(tree)
        signs = read_signs(tree, url, jsonld_objects(tree), first_meta(meta_tags(tree), ("og:type",)))
        if "pruning" in rules:
            tree = prune_furniture(tree)
        text = extract_body(tree, url, embedded="embedded" in rules)
        if "cross_check" in rules:
            text = cross_check_body(text, stated.article_body, stated.description)
        # The net costs a second extraction, so it runs only where the steps could have lost the article:
        # where pruning took away more running text than the body kept.
        removed = prose - prose_words(tree)
        if "safety_net" in rules and removed >= max(MIN_ARTICLE_WORDS, len(text_words(text))):
            text = reconcile_body(text, trafilatura_text(load_html(source), url))
        # trafilatura's guesses, only for what the page does not state.
        guessed_title = guessed_author = guessed_date = None
        if not (stated.title and stated.published_at):
            guessed = extract_metadata(load_html(source), url)
            guessed_title, guessed_author, guessed_date = guessed.title, guessed.author, guessed.date
        elif not (stated.authors or stated.byline_authors):
            # Only the author is missing: its steps alone, cheaper than extract_metadata, whose
            # date search (htmldate) would find an answer that goes unused.
            guessed_author = guess_author(load_html(source))
    except (
        ValueError,
        TypeError,
        AttributeError,
        lxml_html.etree.LxmlError,
    ) as exc:  # trafilatura on garbage
        logger.warning("extraction failed for %s: %s", entry.url, exc)
        return fallback_article(page, "error", f"{type(exc).__name__}: {exc}")
    site_names = stated.site_names
    title = stated.title or clean_title(entry.title, site_names) or clean_title(guessed_title, site_names)
    authors, agencies = stated.authors, stated.agencies
    if not authors:
        more_authors, more_agencies = _fallback_authors(entry, stated, guessed_author, source)
        authors, agencies = more_authors, tuple(dict.fromkeys(agencies + more_agencies))
    published_at = stated.published_at or choose_datetime(
        [entry.published_at, _day_to_datetime(guessed_date)], page.fetched_at
    )
    words = count_words(text)
    wall = None
    if words < WALL_MAX_WORDS:  # the page's whole text is read again only where a wall could be
        wall = wall_kind(with_wall_signs(signs, load_html(source)), text, words, stated.paywalled)
    kind = page_type(signs, words, wall)
    if asks_password and len(text_words(text)) < LOGIN_PAGE_MAX_WORDS:
        # A short page with a password field is a login or paywall wall, not the article.
        return replace(
            fallback_article(page, "login_page", "the page asks for a login instead of showing the article"),
            page_type="wall",
        )
    # What is no article keeps only what the page states about itself: a wall's words, a listing's teasers
    # and an error message are never stored as the article's text (the feed's summary stands in).
    refusal = {
        "consent_wall": "the page shows a consent wall instead of the article",
        "paywall": "the page shows a paywall instead of the article",
        "listing": "the page lists other articles and has none of its own",
        "error_page": "the page says the article is not there",
    }
    status = wall or {"listing": "listing", "error": "error_page"}.get(kind)
    if status is not None:
        text = ""
    if status is not None or len(text_words(text)) < MIN_ARTICLE_WORDS:
        # No article text, but what the page states about itself still beats the feed entry.
        status = status or "no_text"
        fallback = fallback_article(page, status, refusal.get(status, "no article text found on the page"))
        longer = text if len(text) > len(fallback.text or "") else fallback.text
        return replace(
            fallback,
            text=longer,
            page_type=kind,
            extraction_confidence=0.0,
            paywalled=True if wall == "paywall" else stated.paywalled,
            title=title or None,
            seo_title=stated.seo_title,
            authors=authors or entry.authors,
            agencies=agencies,
            published_at=published_at,
            modified_at=stated.modified_at,
            declared_language=stated.declared_language or entry.language,
        )
    return Article(
        url=entry.url,
        feed_url=entry.feed_url,
        link=entry.link,
        guid=entry.guid,
        title=title or None,
        seo_title=stated.seo_title,
        text=drop_leading_title(text, title) if "leading_title" in rules else text,
        description=stated.description or entry.summary,
        authors=authors,
        agencies=agencies,
        published_at=published_at,
        modified_at=stated.modified_at,
        site_name=stated.site_name,
        categories=stated.categories,
        tags=stated.tags,
        image=stated.image,
        fetched_at=page.fetched_at,
        extraction_status="ok",
        http_status=page.http_status,
        final_url=page.final_url,
        content_type=page.content_type,
        declared_language=stated.declared_language or entry.language,
        paywalled=stated.paywalled,
        page_type=kind,
        extraction_confidence=extraction_confidence(text, len(source), signs.link_texts, stated.article_body),
        charset=page.charset,
        raw_html=page.body,
    )
