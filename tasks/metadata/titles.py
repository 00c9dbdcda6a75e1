"""Headlines: the site's name and dates cut off, the page's titles weighed against each other."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from tasks.metadata.jsonld import text_of
from tasks.metadata.sites import is_site_name

TITLE_KEYS = ("og:title", "twitter:title", "dc.title", "title")
# Title separators between headline and site name; ASCII ones only with spaces around, so that
# hyphenated words stay whole. ㅣ (Hangul letter I) serves as a bar in Korean titles.
_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—·•»/]\s+|\s*[｜|]\s*|\s*[：ㅣ]\s*|\s+::\s+")
UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_DATE_SEGMENT = re.compile(r"^[\d\s./\-:]+$")
# What may follow a headline before a label that another title of the page leaves out: a separator, spaced
# or glued ("...커졌다-정치"), but not a colon, which ends a kicker rather than a headline.
_TRAILING_LABEL = re.compile(r"\s*[|\-–—·•»/｜ㅣ~]")
# A title fragment: it opens with an ellipsis ("… groups concerned").
_FRAGMENT = re.compile(r"^\s*(?:…|\.\.\.)")
# A kicker: a few words ending in a colon, before the headline proper.
_KICKER = re.compile(r"[^:]{1,60}:\s+")


def clean_title(title: str | None, site_names: Iterable[str] = ()) -> str | None:
    """A headline without the site's name or a date glued before or after it, whitespace collapsed.

    Args:
        title: The raw title (``<title>``, og:title, JSON-LD headline, ...).
        site_names: Names the site goes by.

    Returns:
        The headline, or None when nothing is left.
    """
    text = text_of(title)
    if not text:
        return None
    names = list(site_names)
    parts = _TITLE_SEPARATOR.split(text)
    separators = _TITLE_SEPARATOR.findall(text)

    def removable(segment: str) -> bool:
        return bool(_DATE_SEGMENT.match(segment)) or is_site_name(segment, names)

    # Strip from the end first (the common "Headline | Site"), then from the front ("SITE - Headline").
    while len(parts) > 1 and removable(parts[-1]):
        parts.pop()
        separators.pop()
    while len(parts) > 1 and removable(parts[0]):
        parts.pop(0)
        separators.pop(0)
    joined = parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=True))
    return " ".join(joined.split()) or None


def choose_title(
    stated: Sequence[str | None], shown: Iterable[str] = (), shared: Iterable[str] = ()
) -> str | None:
    """The headline from the titles a page states, each cleaned by :func:`clean_title` already.

    The most trusted title wins, but the page's other titles can shorten it: a trailing segment that another
    title or the visible ``<h1>`` leaves out ("Headline | Sport", "Headline-정치", "Headline - Site Slogan")
    is a section or site label, whatever its words; and a kicker before a colon that the title shared for
    social media leaves out ("Dachzeile: Headline" against og:title "Headline") is a label above the
    headline, not part of it.

    Args:
        stated: Cleaned titles in order of trust (None where a source had none).
        shown: The texts of the page's ``<h1>`` elements.
        shared: The cleaned og:title and twitter:title.

    Returns:
        The headline, or None when no source had one.
    """
    titles = [t for t in stated if t]
    # A title opening with an ellipsis continues another line (a deck under the real headline): the next
    # source that states a whole headline wins, if any does.
    titles = [t for t in titles if not _FRAGMENT.match(t)] or titles
    if not titles:
        return None
    title = titles[0]
    others = [" ".join(t.split()) for t in (*titles[1:], *shown) if t and t.strip()]
    # Shortest first: "Headline | Sport | Site" against "Headline" and "Headline | Sport" loses both.
    for other in sorted(others, key=len):
        rest = title[len(other) :]
        if other != title and title.startswith(other) and _TRAILING_LABEL.match(rest) and _is_headline(other):
            title = other
            break
    for other in shared:
        head = title[: len(title) - len(other)]
        if other and other != title and title.endswith(other) and _KICKER.fullmatch(head):
            title = other
            break
    return title


def same_words(first: str, second: str) -> bool:
    """Whether two titles have the same words (case, punctuation and Unicode forms aside)."""
    return _words(first) == _words(second) and bool(_words(first))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())


def _is_headline(text: str) -> bool:
    # A single word ("Sport", "Politik") is a section heading more often than a headline.
    return len(text.split()) >= 2 or bool(UNSPACED_SCRIPT.search(text))


# Where a heading is page furniture rather than the article's headline: navigation, breadcrumbs, asides,
# footers (a tag, or a class/id token saying so).
_FURNITURE_TAGS = frozenset({"nav", "aside", "footer"})
_FURNITURE_MARK = re.compile(r"breadcrumb|\bsr-only\b|visually-hidden|screen-reader", re.IGNORECASE)
_HEADLINE_MAX_CHARS = 300


def _is_furniture_heading(heading: Any) -> bool:
    for element in (heading, *heading.iterancestors()):
        if not isinstance(element.tag, str):
            continue
        if element.tag in _FURNITURE_TAGS or element.get("hidden") is not None:
            return True
        if element.get("aria-hidden") == "true":
            return True
        marks = " ".join(
            f"{k}={v}" for k, v in element.attrib.items() if k in ("class", "id") or "data-" in k
        )
        if _FURNITURE_MARK.search(marks):
            return True
    return False


def heading_text(heading: Any) -> str:
    """A heading's words, its inline parts kept apart ("<span>Kicker</span>Headline" gives two words)."""
    return " ".join(" ".join(part.split()) for part in heading.itertext() if part.strip())


def visible_headline(tree: Any, site_names: Iterable[str] = ()) -> str | None:
    """The headline readers see: the first ``<h1>`` outside navigation, breadcrumbs, asides and footers.

    Where no such ``<h1>`` exists, the first ``<h2>`` of an ``<article>``'s header or heading group stands in
    (pages that give the ``<h1>`` to a breadcrumb and style an ``<h2>`` as the headline).

    Args:
        tree: The parsed page.
        site_names: Names the site goes by (an ``<h1>`` holding the site's logo is no headline).

    Returns:
        The cleaned headline, or None when the page shows none.
    """
    names = list(site_names)
    candidates = [h for h in tree.iter("h1") if not _is_furniture_heading(h)]
    if not candidates:
        candidates = [
            h
            for h in tree.xpath("//article//header//h2 | //article//hgroup//h2")
            if not _is_furniture_heading(h)
        ]
    for heading in candidates:
        text = clean_title(heading_text(heading), names)
        if not text or len(text) > _HEADLINE_MAX_CHARS or _FRAGMENT.match(text):
            continue
        if not is_site_name(text, names) and _is_headline(text):
            return text
    return None
