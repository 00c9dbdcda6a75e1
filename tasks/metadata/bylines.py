"""Bylines: person names and agency credits from JSON-LD, meta tags and the page's byline markup."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from lxml.etree import XPath

from tasks.agencies import PRESS_RELEASE, agency_code
from tasks.metadata.jsonld import text_of, types_of
from tasks.metadata.sites import fold, is_site_name
from tasks.metadata.titles import UNSPACED_SCRIPT

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
# A byline longer than this is a biography, a teaser or a credits box (editors, programme), not a list of
# authors; three names with an agency fit.
MAX_BYLINE_CHARS = 80
# Role words that may trail a name in languages without a "by": Korean 기자 ("reporter"), Japanese 記者.
_NAME_SUFFIXES = ("기자", "記者", "特派員", "特派员")
_LEADING_ROLE = re.compile(
    r"^\s*(?:(?:von|by|par|por|di|av|door|autor(?:in)?|author|text|texto|testo|redaktion|foto|and|und|et|og|och)"
    r"\b\s*[:\-–]?\s*)+",
    re.IGNORECASE,
)
# A picture credit inside a byline ("By Ina Berg | Photo: Ute Kamm", "Image: Getty Images"): from its label
# on, the byline names who made the pictures, not who wrote the article. Only at the start of the byline
# or of one of its parts, so that "Text und Fotos: ..." (one person for both) stays a byline.
_PICTURE_CREDIT = re.compile(
    r"(?:^|[,;|/·•]|\s[-–—]\s)\s*(?:images?|photos?|pictures?|pics?|photography|fotos?|bild(?:er)?|"
    r"illustrations?|grafik|graphics?|credits?|photographer|fotograf(?:in)?|bildquelle|fotoquelle|video)"
    r"\s*(?::|©|/)",
    re.IGNORECASE,
)
# Words of picture agencies' and photo desks' names ("Getty Images", "AP Photo", "imago images"): never a
# person's name.
_PICTURE_WORDS = frozenset(
    {"images", "image", "photo", "photos", "pictures", "picture", "photography", "shutterstock", "istock"}
    | {"getty", "imago", "alamy", "bildfunk", "fotostand", "bildagentur"}
)
# "Associated Press in Valencia", "Jane Roe in Kyiv": a place after the name is a dateline, never part of
# a name; what stands before it may be an agency.
_DATELINE_TAIL = re.compile(
    r"^(?P<who>.*?\S)\s+(?:in|from|at|aus|à)\s+(?P<place>[A-ZÀ-Þ][\w'’.-]*(?:\s+[A-ZÀ-Þ][\w'’.-]*){0,2})$"
)
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:[,;/|&+]|\s(?:und|and|et|y|e|og|ve|och|en)\s|\s+mit\s+)\s*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\d")


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
    name = " ".join(words).strip(" :-–—.,[]")
    # Initials in brackets belong to the name ("Elena Berg (ebe)"); only an unbalanced bracket is debris.
    if name.count("(") != name.count(")") or (name.startswith("(") and name.endswith(")")):
        name = name.strip(" ()")
    return name


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
    text = text_of(byline)
    if not text:
        return [], []
    text = _URL.sub(" ", _EMAIL.sub(" ", text))
    text = _PICTURE_CREDIT.split(text, maxsplit=1)[0]
    names_known = list(site_names)
    names: list[str] = []
    agencies: list[str] = []
    for raw in _AUTHOR_SPLIT.split(text):
        dateline = _DATELINE_TAIL.match(raw.strip())
        if dateline:
            raw = dateline.group("who")
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
    if any(w.casefold().strip("().,") in _PICTURE_WORDS for w in words):
        return False  # a picture agency or photo desk ("Getty Images", "AP Photo")
    if len(words) > 1 and text.islower():
        return False  # an account or desk ("web desk", "news team"): printed names are capitalised
    if len(words) == 1 and not single_word and not UNSPACED_SCRIPT.search(text):
        return False
    # A dot glued to the next character ("ndr.de") is a host name, not an initial ("Miguel A. Herguedas").
    return 1 <= len(words) <= 6 and any(c.isalpha() for c in text) and not re.search(r"\.\w", text)


def jsonld_people(value: Any) -> Iterator[tuple[str, str]]:
    """``(name, kind)`` for each author in a JSON-LD ``author``/``creator`` value.

    ``kind`` is ``organization``, ``person`` (typed as one) or ``text`` (a bare string).
    """
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, list):
            yield from jsonld_people(item)
        elif isinstance(item, dict):
            name = text_of(item.get("name"))
            kinds = types_of(item)
            if name:
                yield name, "organization" if any(k.endswith("Organization") for k in kinds) else "person"
        elif isinstance(item, str) and text_of(item):
            yield text_of(item) or "", "text"


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
        # </span>") must not fuse into one word that no role-word list recognises. Every marked name counts:
        # a byline of three authors marks three.
        if names:
            text = ", ".join(" ".join(" ".join(n.itertext()).split()) for n in names)
        else:
            text = " ".join(" ".join(element.itertext()).split())
        if text and len(text) <= MAX_BYLINE_CHARS:
            found.append((text, "text"))
    if labelled is None:
        labelled = labelled_values(tree, AUTHOR_LABELS)[0]
    found.extend((value, "text") for value in labelled)
    return found


def labelled_values(tree: Any, *label_sets: frozenset[str]) -> list[list[str]]:
    """Values of fields the page labels in words: ``<strong>Autor</strong> Name``, ``<dt>Date</dt><dd>...``.

    A label is an element whose whole text (colon and slashes aside) is label words; its value is the
    following ``<dd>``/``<td>`` for definition lists and tables, else the rest of its parent's text.
    Navigation, footers and teasers are skipped as for bylines.

    Args:
        tree: The parsed page.
        *label_sets: Sets of folded label words (see :func:`tasks.metadata.sites.fold`), any of which may make up a label;
            one pass over the page serves them all.

    Returns:
        Per label set, the values, whitespace collapsed, in page order.
    """
    found: list[list[str]] = [[] for _ in label_sets]
    for element in _LABEL_XPATH(tree):
        label = " ".join(element.text_content().split())
        folded = [fold(w) for w in re.split(r"[\s/:]+", label) if w]
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
        if value and len(value) <= MAX_BYLINE_CHARS:
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
    return fold(last) in AUTHOR_LABELS


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
AUTHOR_LABELS = frozenset(
    fold(w)
    for w in (
        *("Autor", "Autorin", "Autoren", "Autorinnen", "Author", "Authors", "Auteur", "Auteurs", "Autora"),
        *("Autores", "Autore", "Autori", "Yazar", "Yazarlar", "Forfatter", "Forfattere", "Skribent"),
        *("Journalist", "Journalisten", "Journalists"),
    )
)
# Small words that join a label to its value ("Veröffentlicht am", "Publié le", "Published on").
_LABEL_LINKS = frozenset({"am", "le", "on", "el", "il", "em", "den", "the"})
# Class words of page parts that list other articles (and so other articles' authors).
_ELSEWHERE = re.compile(
    r"(?:^|[\s_-])(?:teasers?|related|recommend\w*|more|comments?|footer|sidebar)(?:$|[\s_-])", re.IGNORECASE
)
