"""Extract: article pages (HTML bytes) to text and metadata with trafilatura, falling back to the feed entry."""

from __future__ import annotations

import codecs
import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import trafilatura
from lxml import html as lxml_html
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_metadata
from trafilatura.utils import load_html

from core.records import Article, FeedEntry, Page
from tasks.metadata import PageMetadata, choose_datetime, clean_title, read_metadata, split_byline

logger = logging.getLogger(__name__)
# trafilatura warns on every thin page; the outcome is recorded per row in extraction_status instead.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
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
# Fewer words than this and trafilatura most likely caught a caption or a cookie box, not an article.
MIN_ARTICLE_WORDS = 25
# A page with a password field and less text than this is a login wall (articles with a login box in
# the header are longer).
LOGIN_PAGE_MAX_WORDS = 150
# articleBody is "complete" when it holds this share of the extracted word 4-grams.
COMPLETE_SHARE = 0.7
# A JSON string literal in an inline script (hydration data of pages rendered in the browser).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.){200,}"')
# An HTML string in a script is an article (not a menu or a snippet) with at least this many paragraphs.
EMBEDDED_MIN_PARAGRAPHS = 3
# Lines shorter than this are sub-headings or datelines: kept even where articleBody lacks them.
HEADING_WORDS = 8
# A box beside the story never holds more than this share of the page's paragraph text: an element that
# does is the story itself, whatever its class says ("share-wrapper", "modal-content" around an article).
BOX_MAX_PROSE_SHARE = 0.5
# The safety net (see reconcile_body): below this share of the refined body found in trafilatura's own
# answer, the refinements took another part of the page than the article trafilatura alone finds.
SAME_PART_SHARE = 0.5
# Rule families that go beyond plain trafilatura, each one switchable so that the quality bench can measure
# what it adds on pages it was not written for (`python -m bench.quality` prints a leave-one-country-out
# table). Production always runs with all of them.
BODY_RULES = frozenset({"pruning", "cross_check", "leading_title", "embedded", "safety_net"})


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """Decode an HTML page: BOM, then the HTTP charset, then valid UTF-8, then <meta charset>, then cp1252.

    Args:
        body: The bytes as served.
        header_charset: Charset from Content-Type, if any.

    Returns:
        The page as text (undecodable bytes replaced, never an exception).
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    candidates: list[str | None] = [_known_codec(header_charset)]
    # Non-ASCII bytes that are valid UTF-8 are UTF-8 in practice (Latin-1 text almost never is), so they
    # beat a <meta charset> that a CMS left over from an older page encoding.
    if not body.isascii():
        candidates.append("utf-8")
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(_known_codec(match.group(1).decode("ascii", "ignore")))
    candidates.append("utf-8")
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return body.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    # Windows-1252 decodes every byte: a safe last resort that keeps Western text readable.
    return body.decode("cp1252", errors="replace")


def _is_box(element: Any, marks: str) -> bool:
    """Whether an element is a caption, credit, placeholder, overlay or widget beside the story."""
    boxed = (element.get("role") or "").lower() in _FURNITURE_ROLES or bool(
        _FURNITURE_TOKENS.intersection(_TOKEN_SPLIT.split(marks))
    )
    # A box never holds the headline: where one does, the marks describe a layout around the whole story.
    return boxed and element.find(".//h1") is None


def _prose_words(element: Any) -> int:
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
    prose = _prose_words(tree)
    for element in doomed:
        parent = element.getparent()
        if parent is None or _prose_words(element) > BOX_MAX_PROSE_SHARE * prose:
            continue
        if element.tail:
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
    return tree


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


def _words(text: str | None) -> list[str]:
    return re.findall(r"\w+", (text or "").casefold())


def drop_leading_title(text: str, title: str | None) -> str:
    """Remove the headline when trafilatura repeated it as the first line of the body, kicker and all.

    Args:
        text: Extracted body, lines separated by newlines.
        title: The article's title.

    Returns:
        The body without a first line that is just the title.
    """
    first, _, rest = text.partition("\n")
    first_words, title_words = _words(first), _words(title)
    if not (title_words and rest.strip() and first_words):
        return text
    # Headlines often come with a kicker in front ("Nach dem Gipfel: ..."), run together with the title.
    kicker = len(first_words) - len(title_words)
    if 0 <= kicker < HEADING_WORDS and first_words[kicker:] == title_words:
        return rest.lstrip("\n")
    return text


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
    )


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


def cross_check_body(text: str, article_body: str | None, summary: str | None = None) -> str:
    """Drop extracted lines that the page's own JSON-LD ``articleBody`` does not contain.

    Only where ``articleBody`` is complete, i.e. it covers most of what was extracted: then a longer line
    missing from it is a caption, a "read more" teaser or a box, not the article. Short lines stay: they
    are sub-headings, which ``articleBody`` often leaves out.

    Args:
        text: Extracted body, one paragraph per line.
        article_body: The page's ``articleBody``, if any.
        summary: The page's description: a lede that repeats it belongs to the article even where
            ``articleBody`` leaves it out.

    Returns:
        The body, possibly with lines removed.
    """
    if not article_body or len(_words(article_body)) < MIN_ARTICLE_WORDS:
        return text
    stated = _shingles(article_body)
    extracted = _shingles(text)
    if not extracted or len(extracted & stated) < COMPLETE_SHARE * len(extracted):
        return text
    stated |= _shingles(summary or "")
    kept = []
    for line in text.split("\n"):
        line_shingles = _shingles(line)
        long_line = len(_words(line)) >= HEADING_WORDS
        if long_line and line_shingles and not line_shingles & stated:
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _trafilatura_text(tree: Any, url: str) -> str:
    document = trafilatura.bare_extraction(
        tree,  # bare_extraction works on a copy: the tree can be passed again
        url=url,
        with_metadata=False,  # read by the caller, only as far as the page's own metadata falls short
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    return (getattr(document, "text", None) or "").strip() if document is not None else ""


def embedded_article_html(tree: Any) -> str | None:
    """The article as an HTML string inside a page's inline script, for pages rendered in the browser.

    Single-page-app pages ship an empty ``<body>`` and the story as hydration data: a JSON string
    holding the article's HTML. The longest such string with several paragraphs is taken.

    Args:
        tree: The parsed page (lxml).

    Returns:
        The HTML fragment, or None where no script holds one.
    """
    best = ""
    for script in tree.iter("script"):
        code = script.text or ""
        # JSON-LD is read as metadata already; cheap test before the regex over a large script.
        if script.get("type") == "application/ld+json" or ("<p" not in code and "\\u003cp" not in code):
            continue
        for match in _JSON_STRING.finditer(code):
            try:
                value = json.loads(match.group(0))
            except ValueError:
                continue
            if (
                isinstance(value, str)
                and value.count("<p") >= EMBEDDED_MIN_PARAGRAPHS
                and len(value) > len(best)
            ):
                best = value
    return best or None


def extract_body(tree: Any, url: str, *, embedded: bool = True) -> str:
    """The article text of a (pruned) page: trafilatura's full pass, as plain trafilatura runs it.

    trafilatura's fast pass (its own extractor alone, without the readability/justext comparison) was tried
    first here for a while: it won a little on the pages it was tuned on and lost whole articles on pages
    of other publishers (`python -m bench.quality` measures each rule family per country). Where the full
    pass finds nothing, an article shipped as HTML inside a script is extracted instead.

    Args:
        tree: The parsed page, furniture already pruned; not changed.
        url: The page's URL.
        embedded: Look for an article inside a script where the pass found none.

    Returns:
        The body, one paragraph per line ("" where none was found).
    """
    text = _trafilatura_text(tree, url)
    if embedded and len(_words(text)) < MIN_ARTICLE_WORDS:
        found = embedded_article_html(tree)
        if found:
            fragment = load_html(f"<html><body><article>{found}</article></body></html>")
            if fragment is not None:
                inner = _trafilatura_text(prune_furniture(fragment), url)
                if len(inner) > len(text):
                    text = inner
    return text


def reconcile_body(refined: str, reference: str) -> str:
    """The safety net under every step beyond trafilatura: a refinement may trim the article, never lose it.

    ``reference`` is trafilatura's own answer for the untouched page. News pages put the story in one
    block of running text, with menus, teasers and boxes around it; pruning and the other steps are meant
    to cut the boxes away, so what they return lies inside that block. Where most of the refined body is
    not in trafilatura's answer, and that answer is the longer one, the steps took another part of the page
    (a menu, a "scroll to top" strip): the article was pruned away, and trafilatura's answer is returned.

    Args:
        refined: The body after pruning, passes and cross-checks.
        reference: trafilatura's full pass on the unpruned page.

    Returns:
        ``refined``, or ``reference`` where the refinements lost the article.
    """
    if len(_words(reference)) < MIN_ARTICLE_WORDS or len(_words(reference)) <= len(_words(refined)):
        return refined
    mine = _shingles(refined)
    if mine and len(mine & _shingles(reference)) >= SAME_PART_SHARE * len(mine):
        return refined
    return reference


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
        (``fetch_failed``, ``http_error``, ``not_html``, ``login_page``, ``no_text``, ``error``).
    """
    if page.body is None or page.error:
        return fallback_article(page, "fetch_failed", page.error or "no response")
    if page.http_status is not None and page.http_status >= 400:
        return fallback_article(page, "http_error", f"HTTP {page.http_status}")
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
        asks_password = bool(tree.xpath("//input[translate(@type, 'PASSWORD', 'password') = 'password']"))
        prose = _prose_words(tree)
        if "pruning" in rules:
            tree = prune_furniture(tree)
        text = extract_body(tree, url, embedded="embedded" in rules)
        if "cross_check" in rules:
            text = cross_check_body(text, stated.article_body, stated.description)
        # The net costs a second extraction, so it runs only where the steps could have lost the article:
        # where pruning took away more running text than the body kept.
        removed = prose - _prose_words(tree)
        if "safety_net" in rules and removed >= max(MIN_ARTICLE_WORDS, len(_words(text))):
            text = reconcile_body(text, _trafilatura_text(load_html(source), url))
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
    if asks_password and len(_words(text)) < LOGIN_PAGE_MAX_WORDS:
        # A short page with a password field is a login or paywall wall, not the article.
        return fallback_article(
            page, "login_page", "the page asks for a login instead of showing the article"
        )
    if len(_words(text)) < MIN_ARTICLE_WORDS:
        # No article text, but what the page states about itself still beats the feed entry.
        fallback = fallback_article(page, "no_text", "no article text found on the page")
        longer = text if len(text) > len(fallback.text or "") else fallback.text
        return replace(
            fallback,
            text=longer,
            title=title or None,
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
        charset=page.charset,
        raw_html=page.body,
    )
