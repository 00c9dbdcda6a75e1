"""What a page is: an article, a live blog, a gallery or video, a listing, a consent or paywall wall, an error.

Decided from generic signals only (schema.org and OpenGraph types, the URL's shape, the page's structure and
a few words every wall uses), never from a publisher's name or host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from tasks.metadata.jsonld import is_article, types_of

PAGE_TYPES = ("article", "liveblog", "gallery", "video", "listing", "wall", "error")
# A wall shows a few lines instead of the article: with more text than this, the page shows the article.
WALL_MAX_WORDS = 150
# Words of body below which a short page that asks for consent shows nothing but its consent dialog.
CONSENT_MAX_WORDS = 25
# Headings that are links (teasers) at which a page with no article of its own is a listing.
LISTING_MIN_TEASERS = 6

_LIVE_TYPES = frozenset({"LiveBlogPosting"})
_GALLERY_TYPES = frozenset({"ImageGallery", "MediaGallery"})
_VIDEO_TYPES = frozenset({"VideoObject", "VideoGallery"})
# Not WebSite: nearly every page describes its site.
_LISTING_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage"})
# "/live/", "/liveblog-...", "/live-ticker-..."; not "/newsticker/" (a news section's name as often as not).
_LIVE_SEGMENT = re.compile(r"^(?:live|live-?blog|live-?ticker)(?:[-_.].*)?$", re.IGNORECASE)
_GALLERY_SEGMENT = re.compile(
    r"^(?:galler(?:y|ies)|galerie|bildergalerie|fotostrecke|fotos?|photos?|bilder)$", re.IGNORECASE
)
_VIDEO_SEGMENT = re.compile(r"^videos?$", re.IGNORECASE)
# A section path: a few short words, no digits and no long slug ("/politik/", "/en/world/").
_SECTION_SEGMENT = re.compile(r"^[^\W\d_]{1,20}$")
_CONSENT = re.compile(
    r"\bcookies?\b|\bconsent\b|einwillig|zustimm|datenschutzeinstellung|privacy settings|consentement"
    r"|\bconsenso\b|\bconsentimiento\b",
    re.IGNORECASE,
)
_ACCEPT = re.compile(
    r"\baccept|\bagree\b|akzeptier|zustimmen|einverstanden|accepter|j'accepte|aceptar|acepto|accetta",
    re.IGNORECASE,
)
_PAYWALL = re.compile(
    r"\bsubscri(?:be|ption|ber)|abonnier|\babonnent|\babonnement|\babo\b|s'abonner|abonnez|suscr[ií]b"
    r"|abbonati|abbonamento|\bpaywall\b|premium[- ]inhalt|plus-artikel",
    re.IGNORECASE,
)
_PAYWALL_MARK = re.compile(r"paywall|subscriber-only|premium-wall|metered", re.IGNORECASE)
_NOT_FOUND = re.compile(
    r"\b404\b|page not found|not be found|nicht gefunden|existiert nicht|introuvable|n'existe pas"
    r"|no encontrada|non trovata",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PageSigns:
    """What a page shows before extraction: its types, URL path and structure (read from the unpruned page)."""

    types: frozenset[str] = frozenset()  # schema.org @type names of its JSON-LD objects
    has_article: bool = False  # a JSON-LD article object, or og:type article
    og_type: str = ""
    path_segments: tuple[str, ...] = ()
    teasers: int = 0  # headings that are links
    headline: str = ""  # <title> and the first <h1>, for error pages
    page_text: str = ""  # all visible text of the page, for walls (see with_wall_signs)
    paywall_marked: bool = False  # an element whose class or id says it is a paywall (see with_wall_signs)
    link_texts: frozenset[str] = frozenset()  # whitespace-collapsed texts of its links (teasers, menus)


def read_signs(
    tree: Any, url: str | None, objects: Sequence[Mapping[str, Any]], og_type: str | None
) -> PageSigns:
    """Read the signs of what a page is, before pruning takes any of them away.

    Args:
        tree: The parsed page (not pruned).
        url: The page's URL.
        objects: Its JSON-LD objects.
        og_type: Its ``og:type``.

    Returns:
        The signs.
    """
    types = frozenset(t for obj in objects for t in types_of(obj))
    og = (og_type or "").strip().lower()
    has_article = any(is_article(obj) for obj in objects) or og == "article"
    path = urlsplit(url or "").path
    segments = tuple(s for s in path.split("/") if s)
    teasers = sum(1 for heading in tree.iter("h2", "h3", "h4") if _is_teaser(heading))
    h1 = next((" ".join(h.text_content().split()) for h in tree.iter("h1")), "")
    headline = " ".join((tree.findtext(".//title") or "").split()) + " " + h1
    links = frozenset(t for a in tree.iter("a") if (t := " ".join(a.text_content().split())))
    return PageSigns(types, has_article, og, segments, teasers, headline.strip(), link_texts=links)


def with_wall_signs(signs: PageSigns, tree: Any) -> PageSigns:
    """Add what only a wall needs (the page's whole text, a paywall mark): read for short bodies only.

    Args:
        signs: The page's signs.
        tree: The page parsed again (not pruned: pruning takes the consent dialog away).

    Returns:
        The signs with ``page_text`` and ``paywall_marked``.
    """
    body = tree.find(".//body") if tree is not None else None
    text = " ".join((body.text_content() if body is not None else "").split())
    marked = tree is not None and any(
        _PAYWALL_MARK.search(f"{e.get('class') or ''} {e.get('id') or ''}")
        for e in tree.iter()
        if isinstance(e.tag, str) and (e.get("class") or e.get("id"))
    )
    return replace(signs, page_text=text, paywall_marked=marked)


def _is_teaser(heading: Any) -> bool:
    """A heading of a few words that links to another page (not an anchor of its own page)."""
    if len(heading.text_content().split()) < 3:
        return False
    links = [*heading.iter("a"), *(a for a in heading.iterancestors() if a.tag == "a")]
    return any(not (a.get("href") or "#").startswith("#") for a in links)


# Where a login box is site furniture (a sidebar widget, the menu, a modal kept hidden until asked for),
# not a wall in front of the article.
_CHROME_TAGS = frozenset({"nav", "aside", "header", "footer", "dialog"})
_CHROME_MARK = re.compile(
    r"sidebar|widget|menu|\bnav|modal|popup|mfp-hide|dropdown|offcanvas|hidden", re.IGNORECASE
)


def asks_for_login(tree: Any) -> bool:
    """Whether the page asks for a password outside its furniture (a login form where the article would be).

    Args:
        tree: The parsed page (not pruned).

    Returns:
        True where a password field stands outside navigation, sidebars, headers, footers and modals.
    """
    for field in tree.xpath("//input[translate(@type, 'PASSWORD', 'password') = 'password']"):
        chrome = False
        for element in field.iterancestors():
            marks = f"{element.get('class') or ''} {element.get('id') or ''}"
            if element.tag in _CHROME_TAGS or element.get("hidden") is not None or _CHROME_MARK.search(marks):
                chrome = True
                break
        if not chrome:
            return True
    return False


def wall_kind(signs: PageSigns, body: str, words: int, not_free: bool | None) -> str | None:
    """Whether the page is a wall instead of the article, and which: ``consent_wall``, ``paywall`` or None.

    Args:
        signs: The page's signs, with :func:`with_wall_signs`.
        body: The body extracted from it.
        words: Its words (CJK characters counted one each).
        not_free: What the page states (JSON-LD ``isAccessibleForFree`` false gives True).

    Returns:
        The wall's kind, or None where the page shows its article (or is no wall).
    """
    if words >= WALL_MAX_WORDS:
        return None
    text = signs.page_text
    # A consent wall: the body is the consent dialog, or nearly nothing is left of a short page once the
    # dialog is pruned. A short article under a cookie banner keeps its body.
    if _CONSENT.search(body) and _ACCEPT.search(body):
        return "consent_wall"
    short = words < CONSENT_MAX_WORDS and len(text.split()) < 4 * WALL_MAX_WORDS
    if short and _CONSENT.search(text) and _ACCEPT.search(text):
        return "consent_wall"
    # A paid article's free teaser that asks for nothing is the article (stored, ``paywalled``); a wall is a
    # short body that asks for a subscription on a page stated or marked as paid, or asks twice (one
    # "subscribe" line ends many free articles).
    asks = len(_PAYWALL.findall(body))
    if asks >= 2 or (asks and (not_free or signs.paywall_marked)):
        return "paywall"
    return None


def page_type(signs: PageSigns, words: int, wall: str | None) -> str:
    """The page's type (one of :data:`PAGE_TYPES`).

    Args:
        signs: The page's signs.
        words: Words of the body extracted from it.
        wall: What :func:`wall_kind` said.

    Returns:
        ``wall`` for a wall; ``liveblog``, ``gallery``, ``video`` where the types or the URL say so; ``error``
        for a short page whose headline says it is not there; ``listing`` for a page of teasers with no
        article of its own; else ``article``.
    """
    if wall:
        return "wall"
    segments = signs.path_segments
    if signs.types & _LIVE_TYPES or any(_LIVE_SEGMENT.match(s) for s in segments):
        return "liveblog"
    if words < WALL_MAX_WORDS and _NOT_FOUND.search(signs.headline):
        return "error"
    if (not signs.has_article and signs.types & _GALLERY_TYPES) or any(
        _GALLERY_SEGMENT.match(s) for s in segments
    ):
        return "gallery"
    if signs.og_type.startswith("video") or (
        not signs.has_article
        and (signs.types & _VIDEO_TYPES or any(_VIDEO_SEGMENT.match(s) for s in segments))
    ):
        return "video"
    section_url = len(segments) <= 2 and all(_SECTION_SEGMENT.match(s) for s in segments)
    if (
        not signs.has_article
        and signs.teasers >= LISTING_MIN_TEASERS
        and (signs.types & _LISTING_TYPES or section_url)
    ):
        return "listing"
    return "article"
