"""Page furniture: the boxes around a story, found by class, id and role, pruned before extraction.

Cookie, consent and newsletter boxes, captions and credits, side boxes and link lists.
"""

from __future__ import annotations

import re
from typing import Any

# Page furniture that trafilatura sometimes mistakes for the article on thin pages (video, galleries).
# Generic class/id words only: no rule here may name a publisher or a site.
_FURNITURE_WORDS = ("cookie", "consent", "gdpr", "newsletter", "paywall-offer", "subscribe-box")
# Whole class/id tokens (split on "-", "_" and spaces) that mark boxes around the story: captions and
# photo credits, consent placeholders for embeds, overlays, related/share widgets. Matched as whole tokens
# because as substrings they hit layout classes ("hasCaption" on a headline block, "shared-layout").
_FURNITURE_TOKENS = frozenset(
    {
        "caption",
        "credit",
        "credits",
        "copyright",
        "placeholder",
        "modal",
        "related",
        "share",
        "sharing",
        "social",
        "recommended",
        "recommendations",
    }
)
# ARIA roles of boxes beside the story (fact boxes, "read more") and overlays.
_FURNITURE_ROLES = frozenset({"complementary", "dialog", "alertdialog"})
_TOKEN_SPLIT = re.compile(r"[\s_-]+")
# A list whose text is at least this share link text is a list of links (related articles, menus).
LINK_SHARE = 0.9
# ... and a list needs this many links (one linked item is a source note or a single reference).
LINK_LIST_MIN_ITEMS = 2
# html/body/main/article often carry state classes like "cookie-banner-open": never prune those.
_NEVER_PRUNED = frozenset({"html", "body", "main", "article"})
# A box beside the story never holds more than this share of the page's paragraph text: an element that
# does is the story itself, whatever its class says ("share-wrapper", "modal-content" around an article).
BOX_MAX_PROSE_SHARE = 0.5


def _is_box(element: Any, marks: str) -> bool:
    """Whether an element is a caption, credit, placeholder, overlay or widget beside the story."""
    boxed = (element.get("role") or "").lower() in _FURNITURE_ROLES or bool(
        _FURNITURE_TOKENS.intersection(_TOKEN_SPLIT.split(marks))
    )
    # A box never holds the headline: where one does, the marks describe a layout around the whole story.
    return boxed and element.find(".//h1") is None


def prose_words(element: Any) -> int:
    """Words in the paragraphs (``<p>``) inside an element: where a page keeps its running text."""
    return sum(len(" ".join(p.itertext()).split()) for p in element.iter("p"))


def _text_length(element: Any) -> int:
    return len("".join(element.itertext()).strip())


def _link_lists(tree: Any) -> list[Any]:
    """Lists made of links only: "read more" lists and menus, not the story's own bullet points."""
    found = []
    for element in tree.iter("ul", "ol"):
        links = element.findall(".//a")
        if len(links) < LINK_LIST_MIN_ITEMS:
            continue
        total = _text_length(element)
        if total and sum(_text_length(a) for a in links) >= LINK_SHARE * total:
            found.append(element)
    return found


def prune_furniture(tree: Any) -> Any:
    """Remove page furniture (cookie, consent, newsletter boxes, captions, side boxes, link lists), keeping tail text.

    Elements whose class or id contains one of the furniture words or tokens, whose ARIA role puts them
    beside the story, and lists made of links go, in one Python pass (an XPath with ``translate()`` on every
    element cost more than the whole rest of the extraction). An element holding most of the page's paragraph
    text stays whatever its marks: furniture stands beside the story, so that element is the story.

    Args:
        tree: The parsed page (lxml); changed in place.

    Returns:
        The same tree.
    """
    doomed = []
    # Only elements that carry a class, id or role can be furniture: libxml2 finds them far faster than
    # a Python loop over every element skips the rest.
    for element in tree.xpath("//*[@class or @id or @role]"):
        if element.tag in _NEVER_PRUNED:
            continue
        marks = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
        if not marks.strip() and not element.get("role"):
            continue
        if any(word in marks for word in _FURNITURE_WORDS) or _is_box(element, marks):
            doomed.append(element)
    doomed.extend(_link_lists(tree))
    prose = prose_words(tree)
    for element in doomed:
        parent = element.getparent()
        if parent is None or prose_words(element) > BOX_MAX_PROSE_SHARE * prose:
            continue
        if element.tail:
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
    return tree
