"""Metadata a page states about itself (JSON-LD, OpenGraph, meta tags), read in a fixed order of trust."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from extruct.jsonld import JsonLdExtractor
from lxml.etree import XPath

from tasks.agencies import PRESS_RELEASE, agency_code

# schema.org types whose object is the article itself (NewsArticle, ReportageNewsArticle, ... end in "Article").
_ARTICLE_TYPES = frozenset({"BlogPosting", "LiveBlogPosting", "Report", "SocialMediaPosting", "Review"})
_META_KEYS = ("property", "name", "itemprop", "http-equiv")

TITLE_KEYS = ("og:title", "twitter:title", "dc.title", "title")
PUBLISHED_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "date",
    "dc.date",
    "pubdate",
    "publishdate",
    "publish-date",
    "parsely-pub-date",
    "sailthru.date",
)
MODIFIED_KEYS = (
    "article:modified_time",
    "og:article:modified_time",
    "og:updated_time",
    "datemodified",
    "dcterms.modified",
    "last-modified",
)
AUTHOR_KEYS = (
    "author",
    "article:author",
    "og:article:author",
    "article:byline",
    "byl",
    "dc.creator",
    "parsely-author",
    "sailthru.author",
)
SITE_KEYS = ("og:site_name", "application-name", "apple-mobile-web-app-title", "publisher", "twitter:site")

# Words that introduce or describe a byline rather than name a person ("Von", "By", "Autor:", "Redaktion").
_ROLE_WORDS = frozenset(
    [
        "autor",
        "autorin",
        "autoren",
        "author",
        "authors",
        "text",
        "texte",
        "fotos",
        "foto",
        "redaktion",
        "redakteur",
        "redakteurin",
        "reporter",
        "reporterin",
        "korrespondent",
        "korrespondentin",
        "journalist",
        "journalistin",
        "mitarbeit",
        "staff",
        "team",
        "desk",
        "newsdesk",
        "editor",
        "editors",
        "correspondent",
        "writer",
        "contributor",
        "agentur",
        "agency",
        "agencies",
        "quelle",
        "source",
    ]
)
# Role words that may trail a name in languages without a "by": Korean 기자 ("reporter"), Japanese 記者.
_NAME_SUFFIXES = ("기자", "記者", "特派員", "特派员")
_LEADING_ROLE = re.compile(
    r"^\s*(?:(?:von|by|par|por|di|av|door|autor(?:in)?|author|text|texto|testo|redaktion|foto)\b\s*[:\-–]?\s*)+",
    re.IGNORECASE,
)
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:[,;/|&+]|\s(?:und|and|et|y|e|og|ve|och|en)\s|\s+mit\s+)\s*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\d")
# Title separators between headline and site name; ASCII ones only with spaces around, so that
# hyphenated words stay whole. ㅣ (Hangul letter I) serves as a bar in Korean titles.
_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—·•»/]\s+|\s*[｜|]\s*|\s*[：ㅣ]\s*|\s+::\s+")
_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_DATE_SEGMENT = re.compile(r"^[\d\s./\-:]+$")
# What may follow a headline before a label that another title of the page leaves out: a separator, spaced
# or glued ("...커졌다-정치"), but not a colon, which ends a kicker rather than a headline.
_DOTTED_DATE = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})\b(?:\D{1,4}(\d{1,2})[:.](\d{2})\b)?")
_TRAILING_LABEL = re.compile(r"\s*[|\-–—·•»/｜ㅣ~]")
# A kicker: a few words ending in a colon, before the headline proper.
_KICKER = re.compile(r"[^:]{1,60}:\s+")


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself, each field from the most trusted source that had it."""

    title: str | None = None
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


# --------------------------------------------------------------------------------- reading the page


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


def _types(obj: Mapping[str, Any]) -> list[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)]


def is_article(obj: Mapping[str, Any]) -> bool:
    """Whether a JSON-LD object describes an article (NewsArticle, ReportageNewsArticle, BlogPosting, ...)."""
    return any(k.endswith("Article") or k in _ARTICLE_TYPES for k in _types(obj))


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
    return next((o for o in articles if _text(o.get("headline"))), articles[0])


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.netloc.lower().removeprefix('www.')}{parts.path.rstrip('/')}"


def _text(value: Any) -> str | None:
    """A JSON-LD or meta string, entities decoded and whitespace collapsed (None if empty or not text)."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    cleaned = " ".join(html.unescape(value).split())
    return cleaned or None


def _first(meta: Mapping[str, list[str]], keys: Iterable[str]) -> str | None:
    for key in keys:
        for value in meta.get(key, ()):
            text = _text(value)
            if text:
                return text
    return None


def _terms(values: Iterable[Any], meta: Mapping[str, list[str]], keys: Iterable[str]) -> tuple[str, ...]:
    """Section or keyword terms from JSON-LD values (string or list), else from meta tags, comma-split."""
    found: list[str] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            found.extend((_text(item) or "").split(","))
    if not any(t.strip() for t in found):
        found = [part for key in keys for v in meta.get(key, ()) for part in v.split(",")]
    return tuple(dict.fromkeys(t for t in (" ".join(f.split()) for f in found) if t))


# --------------------------------------------------------------------------------- site names and titles


def _fold(text: str) -> str:
    """Compare-form of a name: NFKD without accents, ö->o and ß->ss, lower case, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    return "".join(c for c in decomposed if c.isalnum())


def _fold_variants(text: str) -> set[str]:
    # German hosts spell umlauts as ae/oe/ue ("boersen-zeitung.de" for "Börsen-Zeitung").
    lowered = text.casefold()
    german = lowered.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    return {v for v in (_fold(lowered), _fold(german)) if v}


def host_names(url: str | None) -> list[str]:
    """Names a host goes by: ``www.n-tv.de`` gives ``n-tv.de`` and ``n-tv``.

    Args:
        url: A page URL.

    Returns:
        The host without ``www.``/``m.`` and its main label (empty for no URL).
    """
    host = urlsplit(url or "").hostname or ""
    labels = [label for label in host.split(".") if label]
    while labels and labels[0] in ("www", "m", "amp", "mobile"):
        labels = labels[1:]
    if len(labels) < 2:
        return [".".join(labels)] if labels else []
    # The main label is the one before the public suffix (co.jp, com.tr: two short labels at the end).
    suffix = 2 if len(labels) > 2 and len(labels[-2]) <= 3 and len(labels[-1]) == 2 else 1
    main = labels[-suffix - 1]
    return [".".join(labels), ".".join(labels[-suffix - 1 :]), main]


def site_names_of(
    meta: Mapping[str, list[str]], article: Mapping[str, Any] | None, url: str | None
) -> list[str]:
    """Every name the site states for itself, plus its host names.

    Args:
        meta: The page's meta tags.
        article: The page's JSON-LD article, if any.
        url: The page URL.

    Returns:
        Names, most specific first, without duplicates.
    """
    names: list[str] = []
    for key in SITE_KEYS:
        names.extend(_text(v) or "" for v in meta.get(key, ()))
    if article is not None:
        for key in ("publisher", "sourceOrganization", "isPartOf"):
            value = article.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    names.append(_text(item.get("name")) or "")
    names.extend(host_names(url))
    # "Deutsche Welle (www.dw.com)" also goes by "Deutsche Welle"; "@handle" by "handle".
    names.extend(re.sub(r"\s*\(.*?\)\s*", " ", n).strip() for n in list(names) if "(" in n)
    names = [n.lstrip("@") for n in names]
    return list(dict.fromkeys(n for n in names if n and not n.startswith("http")))


def is_site_name(text: str, site_names: Iterable[str]) -> bool:
    """Whether a title segment or byline names the site itself ("Golem.de", "DER SPIEGEL", "n-tv NACHRICHTEN").

    Args:
        text: The candidate.
        site_names: Names from :func:`site_names_of`.

    Returns:
        True when, letters and digits only, it equals a site name, or one begins with the other and the
        shorter has at least three characters ("DW.COM" vs "DW" is too short to guess; "ntvhaber" vs "ntv" not).
    """
    candidate = _fold_variants(text)
    if not candidate:
        return False
    for name in site_names:
        for folded in _fold_variants(name):
            for mine in candidate:
                if mine == folded:
                    return True
                shorter, longer = sorted((mine, folded), key=len)
                if len(shorter) >= 3 and longer.startswith(shorter) and len(text.split()) <= 4:
                    return True
    return False


def clean_title(title: str | None, site_names: Iterable[str] = ()) -> str | None:
    """A headline without the site's name or a date glued before or after it, whitespace collapsed.

    Args:
        title: The raw title (``<title>``, og:title, JSON-LD headline, ...).
        site_names: Names the site goes by.

    Returns:
        The headline, or None when nothing is left.
    """
    text = _text(title)
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


def _is_headline(text: str) -> bool:
    # A single word ("Sport", "Politik") is a section heading more often than a headline.
    return len(text.split()) >= 2 or bool(_UNSPACED_SCRIPT.search(text))


# --------------------------------------------------------------------------------- authors


def _strip_roles(part: str) -> str:
    part = _LEADING_ROLE.sub("", part)
    # "Capital Von Jemima Kelly": a section or title before "von/by" is not part of the name.
    # Case-sensitive and never before an article, so that "Ursula von der Leyen" stays whole.
    match = re.search(r"\b(?:Von|VON|By|BY)\s+(?!(?:der|dem|den|Der|Dem|Den)\b)(\S.*)$", part)
    if match:
        part = match.group(1)
    for suffix in _NAME_SUFFIXES:
        part = part.removesuffix(suffix)
    words = [w for w in part.split() if w.casefold().strip(":.") not in _ROLE_WORDS]
    return " ".join(words).strip(" :-–—.,()[]")


def split_byline(
    byline: str | None, site_names: Iterable[str] = (), single_word: bool = False
) -> tuple[list[str], list[str]]:
    """Split a byline into person names and agency codes.

    Drops role words ("Von", "By", "Autor:", "Redaktion"), e-mail addresses, URLs, dates, press-release
    wires ("ots") and the site's own names; splits "A und B", "A, B and C", "A/B". Agencies are read by
    :func:`tasks.agencies.agency_code`.

    Args:
        byline: The byline text.
        site_names: Names the site goes by (a byline naming only the site names no person).
        single_word: Whether a one-word part may be a name (see :func:`is_person_name`).

    Returns:
        ``(names, agencies)``, each without duplicates, in byline order.
    """
    text = _text(byline)
    if not text:
        return [], []
    text = _URL.sub(" ", _EMAIL.sub(" ", text))
    names_known = list(site_names)
    names: list[str] = []
    agencies: list[str] = []
    for raw in _AUTHOR_SPLIT.split(text):
        part = raw
        code = agency_code(raw)
        if not code:
            part = _strip_roles(raw)
            code = agency_code(part) if part else None
        if code == PRESS_RELEASE:
            continue  # a press-release wire ("ots") is neither an agency nor a person
        if code:
            agencies.append(code)
        elif part and is_person_name(part, single_word) and not is_site_name(part, names_known):
            names.append(part)
    return list(dict.fromkeys(names)), list(dict.fromkeys(agencies))


def is_person_name(text: str, single_word: bool = True) -> bool:
    """Whether a cleaned byline part can be a person's name: letters, at most six words, no digits.

    Args:
        text: The cleaned part.
        single_word: Whether one word may be a name. Free-text bylines put places and initials next to
            names ("Frankfurt", "amw"), so only a source that says "this is a person" gets one word;
            scripts written without spaces between names (Chinese, Japanese, Korean) always do.
    """
    if _DIGITS.search(text) or "@" in text or len(text) > 60:
        return False
    words = text.split()
    if len(words) == 1 and not single_word and not _UNSPACED_SCRIPT.search(text):
        return False
    # A dot glued to the next character ("ndr.de") is a host name, not an initial ("Miguel A. Herguedas").
    return 1 <= len(words) <= 6 and any(c.isalpha() for c in text) and not re.search(r"\.\w", text)


def _jsonld_people(value: Any) -> Iterator[tuple[str, str]]:
    """``(name, kind)`` for each author in a JSON-LD ``author``/``creator`` value.

    ``kind`` is ``organization``, ``person`` (typed as one) or ``text`` (a bare string).
    """
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, list):
            yield from _jsonld_people(item)
        elif isinstance(item, dict):
            name = _text(item.get("name"))
            kinds = _types(item)
            if name:
                yield name, "organization" if any(k.endswith("Organization") for k in kinds) else "person"
        elif isinstance(item, str) and _text(item):
            yield _text(item) or "", "text"


def authors_from(
    sources: Iterable[Iterable[tuple[str, str]]], site_names: Iterable[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Authors from the first source that names a person, agencies from every source read until then.

    Args:
        sources: Per source, in order of trust, ``(byline, kind)`` pairs; kind ``person`` (a JSON-LD
            Person), ``organization`` (never a person, only possibly an agency) or ``text``.
        site_names: Names the site goes by.

    Returns:
        ``(authors, agencies)``.
    """
    names_known = list(site_names)
    authors: list[str] = []
    agencies: list[str] = []
    for source in sources:
        found: list[str] = []
        for byline, kind in source:
            if kind == "organization":
                # An organisation is never a person: it counts only when it is an agency.
                code = agency_code(byline)
                if code and code != PRESS_RELEASE:
                    agencies.append(code)
                continue
            names, codes = split_byline(byline, names_known, single_word=kind == "person")
            found.extend(names)
            agencies.extend(codes)
        if found and not authors:
            authors = found
        if authors:
            break
    return tuple(dict.fromkeys(authors)), tuple(dict.fromkeys(agencies))


def markup_bylines(tree: Any, labelled: list[str] | None = None) -> list[tuple[str, str]]:
    """Bylines as the page marks them up: author markup and classes, author links, labelled author fields.

    Read are ``rel=author``/``itemprop=author``, a class ``author``/``byline`` (or ``block__author``), links to
    author pages and fields labelled in words ("Autor: ...", ``<dt>Author</dt><dd>...</dd>``).

    Teasers, navigation and footers name other articles' authors, so those parts of the page are skipped; so
    are links to the index of all authors (".../authors"), whose text is "All authors", not a name.

    Args:
        tree: The parsed page.
        labelled: The page's author-labelled values, where the caller has read them already (see
            :func:`labelled_values`); None reads them here.

    Returns:
        ``(text, "text")`` pairs in page order.
    """
    found: list[tuple[str, str]] = []
    for element in _BYLINE_XPATH(tree):
        if not _marks_byline(element) or _elsewhere(element) or _is_index_link(element):
            continue
        names = element.xpath('.//*[@itemprop="name"]')
        # Text pieces joined with spaces: a name and a role in sibling tags ("<a>Ina Berg</a><span>Reporterin
        # </span>") must not fuse into one word that no role-word list recognises.
        text = " ".join(" ".join((names[0] if names else element).itertext()).split())
        if text and len(text) <= 80:
            found.append((text, "text"))
    if labelled is None:
        labelled = labelled_values(tree, _AUTHOR_LABELS)[0]
    found.extend((value, "text") for value in labelled)
    return found


def labelled_values(tree: Any, *label_sets: frozenset[str]) -> list[list[str]]:
    """Values of fields the page labels in words: ``<strong>Autor</strong> Name``, ``<dt>Date</dt><dd>...``.

    A label is an element whose whole text (colon and slashes aside) is label words; its value is the
    following ``<dd>``/``<td>`` for definition lists and tables, else the rest of its parent's text.
    Navigation, footers and teasers are skipped as for bylines.

    Args:
        tree: The parsed page.
        *label_sets: Sets of folded label words (see :func:`_fold`), any of which may make up a label;
            one pass over the page serves them all.

    Returns:
        Per label set, the values, whitespace collapsed, in page order.
    """
    found: list[list[str]] = [[] for _ in label_sets]
    for element in _LABEL_XPATH(tree):
        label = " ".join(element.text_content().split())
        folded = [_fold(w) for w in re.split(r"[\s/:]+", label) if w]
        words = [w for w in folded if w not in _LABEL_LINKS]
        if not words or len(words) > 3:
            continue
        matching = [i for i, labels in enumerate(label_sets) if all(w in labels for w in words)]
        if not matching or _elsewhere(element):
            continue
        value = ""
        if element.tag in ("dt", "th"):
            following = element.getnext()
            if following is not None and following.tag in ("dd", "td"):
                value = following.text_content()
        else:
            parent = element.getparent()
            whole = " ".join(parent.text_content().split()) if parent is not None else ""
            if whole.startswith(label):
                value = whole[len(label) :]
        value = " ".join(value.split()).lstrip(":").strip()
        if value and len(value) <= 80:
            for i in matching:
                found[i].append(value)
    return found


def _marks_byline(element: Any) -> bool:
    """Whether markup says an element is a byline (the XPath preselects by substrings only).

    A class alone does not say so inside ``<figure>``: there a "byline" credits the photo or audio. Author
    markup and author-page links still count there, as some pages set the byline as a figure with a portrait.
    """
    if element.get("rel") == "author" or element.get("itemprop") == "author":
        return True
    href = element.get("href") or "" if element.tag == "a" else ""
    if _AUTHOR_PATH.search(urlsplit(href).path):
        return True
    return any(_BYLINE_CLASS.match(c) for c in (element.get("class") or "").split()) and not any(
        ancestor.tag in ("figure", "figcaption") for ancestor in element.iterancestors()
    )


def _elsewhere(element: Any) -> bool:
    """Whether an element sits in navigation, a footer or a part listing other articles."""
    return any(
        ancestor.tag in ("nav", "footer", "aside") or _ELSEWHERE.search(ancestor.get("class") or "")
        for ancestor in element.iterancestors()
    )


def _is_index_link(element: Any) -> bool:
    # ".../authors" or ".../autoren/" lists every author; ".../autoren/ina-berg" is one of them.
    if element.tag != "a":
        return False
    last = urlsplit(element.get("href") or "").path.rstrip("/").rsplit("/", 1)[-1]
    return _fold(last) in _AUTHOR_LABELS


_BYLINE_XPATH = XPath(
    '//*[@rel="author" or @itemprop="author"]'
    '|//a[contains(@href, "/autor") or contains(@href, "/author") or contains(@href, "/journalist")]'
    '|//*[contains(@class, "author") or contains(@class, "byline")]'
)
# A path to an author's page: "/autoren/ina-berg", "/author-ina-berg", not "/journalistische-grundsaetze".
_AUTHOR_PATH = re.compile(
    r"/(?:autor(?:in|en|es|a|e|i)?|auteurs?|authors?|journalist(?:in|en|s)?)(?:[/_-]|$)", re.IGNORECASE
)
# A class that marks a byline: the word itself or a BEM element of a block ("article__author"); not a
# compound like "author-bio" or "authorbox", which holds more than the name.
_BYLINE_CLASS = re.compile(r"^(?:[\w-]+__)?(?:author|byline)$", re.IGNORECASE)
# Elements that hold a field's label in "label value" lists and definition lists.
_LABEL_XPATH = XPath("//strong|//b|//dt|//th|//label|//span|//em")
# Label words before a byline, folded: German "Autorin/Autor", English, French, Spanish, Italian, Portuguese,
# Turkish, Norwegian/Danish, Swedish.
_AUTHOR_LABELS = frozenset(
    _fold(w)
    for w in (
        *("Autor", "Autorin", "Autoren", "Autorinnen", "Author", "Authors", "Auteur", "Auteurs", "Autora"),
        *("Autores", "Autore", "Autori", "Yazar", "Yazarlar", "Forfatter", "Forfattere", "Skribent"),
        *("Journalist", "Journalisten", "Journalists"),
    )
)
# Label words before a publication date, folded (not "Stand" or "Updated": those date a later revision).
_DATE_LABELS = frozenset(
    _fold(w)
    for w in (
        *("Datum", "Date", "Published", "Publié", "Publiée", "Veröffentlicht", "Erschienen", "Fecha"),
        *("Publicado", "Publicada", "Data", "Pubblicato", "Tarih", "Yayınlanma", "Publisert", "Dato"),
    )
)
# Small words that join a label to its value ("Veröffentlicht am", "Publié le", "Published on").
_LABEL_LINKS = frozenset({"am", "le", "on", "el", "il", "em", "den", "the"})
# Class words of page parts that list other articles (and so other articles' authors).
_ELSEWHERE = re.compile(
    r"(?:^|[\s_-])(?:teasers?|related|recommend\w*|more|comments?|footer|sidebar)(?:$|[\s_-])", re.IGNORECASE
)


# --------------------------------------------------------------------------------- dates


def parse_datetime(value: Any) -> datetime | None:
    """Read an ISO 8601 (or RFC 2822) date-time as stated; naive when the page gave no offset.

    Args:
        value: The text.

    Returns:
        The datetime, or None when it is not one.
    """
    text = _text(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def parse_day_first(value: str | None) -> datetime | None:
    """Read a written date as pages print it: ISO, or day-first with dots ("28.04.2023, 14:05 Uhr").

    Dots mark the day-month-year order used across Europe; slashed dates ("04/05/2023") are left unread,
    as they are day-first in some countries and month-first in others.

    Args:
        value: The text.

    Returns:
        A naive datetime (midnight when no time is given), or None.
    """
    stated = parse_datetime(value)
    if stated is not None:
        return stated
    match = _DOTTED_DATE.search(value or "")
    if not match:
        return None
    day, month, year, hour, minute = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def choose_datetime(candidates: Iterable[datetime | None], fetched_at: datetime | None) -> datetime | None:
    """The first plausible date-time, made aware in the page's own offset.

    A naive value takes the offset another statement on the page gives for the same wall time, else that
    of any other dated statement of the page, else UTC. A value after the fetch cannot be a publication
    (a wrong offset or a template's "now"), and one within a minute of the fetch is the page's render time.

    Args:
        candidates: Parsed values in order of trust (None where a source had none).
        fetched_at: When the page was fetched.

    Returns:
        The aware datetime, or None.
    """
    values = [c for c in candidates if c is not None]
    offsets = [c.tzinfo for c in values if c.tzinfo is not None]
    for value in values:
        aware = value
        if value.tzinfo is None:
            same = next(
                (c.tzinfo for c in values if c.tzinfo is not None and c.replace(tzinfo=None) == value), None
            )
            aware = value.replace(tzinfo=same or (offsets[0] if offsets else UTC))
        if fetched_at is not None and (aware > fetched_at or abs(aware - fetched_at) < timedelta(minutes=1)):
            continue
        return aware
    return None


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
        _text(in_language),
        root.get("lang") if root is not None else None,
        _first(meta, ("og:locale", "language", "content-language", "dc.language")),
    ):
        code = (
            re.split(r"[-_]", declared.strip())[0].lower()
            if isinstance(declared, str) and declared.strip()
            else ""
        )
        if re.fullmatch(r"[a-z]{2,3}", code):
            return code
    return None


# --------------------------------------------------------------------------------- all together


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
        _text(ld.get("headline")),
        _first(meta, ("headline",)),
        _first(meta, TITLE_KEYS),
        _text(tree.findtext(".//title")),
    ]
    shared = [clean_title(_first(meta, (key,)), site_names) or "" for key in ("og:title", "twitter:title")]
    title = choose_title(
        [clean_title(c, site_names) for c in titles],
        shown=[" ".join(h.text_content().split()) for h in tree.iter("h1")],
        shared=shared,
    )

    meta_authors = [(a, "text") for key in AUTHOR_KEYS for a in meta.get(key, ())]
    authors, agencies = authors_from(
        [list(_jsonld_people(ld.get("author"))) + list(_jsonld_people(ld.get("creator"))), meta_authors],
        site_names,
    )
    labelled_authors, labelled_dates = labelled_values(tree, _AUTHOR_LABELS, _DATE_LABELS)
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
        authors=authors,
        agencies=agencies,
        byline_authors=byline_authors,
        byline_agencies=byline_agencies,
        published_at=published,
        modified_at=modified,
        declared_language=declared_language_of(tree, meta, article),
        site_name=_first(meta, ("og:site_name",)) or site_name,
        description=_text(ld.get("description"))
        or _first(meta, ("og:description", "description", "twitter:description")),
        article_body=body.strip() if isinstance(body, str) and body.strip() else None,
        paywalled=paywalled,
        categories=_terms([ld.get("articleSection")], meta, ("article:section",)),
        tags=_terms([ld.get("keywords")], meta, ("article:tag", "news_keywords", "keywords")),
        image=_text(image) or _first(meta, ("og:image", "twitter:image")),
        site_names=tuple(site_names),
    )
