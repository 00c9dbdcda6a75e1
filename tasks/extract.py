"""Extract: article pages (HTML bytes) to text and metadata with trafilatura, falling back to the feed entry."""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import trafilatura
from lxml import html as lxml_html
from prefect import task
from prefect.cache_policies import NONE as NO_CACHE
from trafilatura.utils import load_html

from tasks.records import Article, FeedEntry, Page

logger = logging.getLogger(__name__)
# trafilatura warns on every thin page; the outcome is recorded per row in extraction_status instead.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Page furniture that trafilatura sometimes mistakes for the article on thin pages (video, galleries).
# Generic class/id words only: no rule here may name a publisher or a site.
_FURNITURE_WORDS = ("cookie", "consent", "gdpr", "newsletter", "paywall-offer", "subscribe-box")
PRUNE_XPATH = [
    # html/body/main/article often carry state classes like "cookie-banner-open": never prune those.
    "//*[not(self::html or self::body or self::main or self::article)]["
    + " or ".join(
        f"contains(translate(@{attr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '{word}')"
        for attr in ("class", "id")
        for word in _FURNITURE_WORDS
    )
    + "]"
]
# Fewer words than this and trafilatura most likely caught a caption or a cookie box, not an article.
MIN_ARTICLE_WORDS = 25


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """Decode an HTML page: BOM first, then the HTTP charset, then <meta charset>, then UTF-8, then cp1252.

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


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _jsonld_objects(tree: Any) -> Iterable[dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content() or "")
        except (json.JSONDecodeError, ValueError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
                yield item


def page_metadata(tree: Any) -> dict[str, Any]:
    """Read the metadata a page states about itself (meta tags, JSON-LD, <html lang>).

    Args:
        tree: The parsed page (lxml).

    Returns:
        Keys ``published_at``, ``modified_at`` (aware datetimes) and ``declared_language``, where present.
    """
    meta: dict[str, str] = {}
    for element in tree.xpath("//meta[@content]"):
        key = (
            (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        )
        if key and key not in meta:
            meta[key] = element.get("content", "").strip()
    result: dict[str, Any] = {}
    for obj in _jsonld_objects(tree):
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(isinstance(k, str) and k.endswith("Article") for k in kinds):
            result.setdefault("published_at", _parse_datetime(obj.get("datePublished")))
            result.setdefault("modified_at", _parse_datetime(obj.get("dateModified")))
            if isinstance(obj.get("inLanguage"), str):
                result.setdefault("declared_language", obj["inLanguage"])
    for key in ("article:published_time", "og:article:published_time", "datepublished", "date"):
        if not result.get("published_at"):
            result["published_at"] = _parse_datetime(meta.get(key))
    for key in ("article:modified_time", "og:updated_time", "datemodified"):
        if not result.get("modified_at"):
            result["modified_at"] = _parse_datetime(meta.get(key))
    root_lang = tree.getroottree().getroot().get("lang") if tree is not None else None
    declared = result.get("declared_language") or root_lang or meta.get("og:locale") or meta.get("language")
    code = (
        re.split(r"[-_]", declared.strip())[0].lower()
        if isinstance(declared, str) and declared.strip()
        else ""
    )
    result["declared_language"] = code if re.fullmatch(r"[a-z]{2,3}", code) else None
    return {k: v for k, v in result.items() if v is not None}


def _split_authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    parts = [p.strip() for p in re.split(r";|\s+und\s+|\s+and\s+", value) if p.strip()]
    return tuple(dict.fromkeys(parts))


def _day_to_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def _words(text: str | None) -> list[str]:
    return re.findall(r"\w+", (text or "").casefold())


def drop_leading_title(text: str, title: str | None) -> str:
    """Remove the headline when trafilatura repeated it as the first line of the body.

    Args:
        text: Extracted body, lines separated by newlines.
        title: The article's title.

    Returns:
        The body without a first line that is just the title.
    """
    first, _, rest = text.partition("\n")
    if title and rest.strip() and _words(first) and _words(first) == _words(title):
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
        raw_html=page.body if status not in ("fetch_failed", "not_html") else None,
    )


def extract_article(page: Page) -> Article:
    """Extract one fetched page into an article; never raises for a bad page.

    Args:
        page: The fetched page with its feed entry.

    Returns:
        The article; ``extraction_status`` is ``ok`` or says why the feed entry was used instead
        (``fetch_failed``, ``http_error``, ``not_html``, ``no_text``, ``error``).
    """
    if page.body is None or page.error:
        return fallback_article(page, "fetch_failed", page.error or "no response")
    if page.http_status is not None and page.http_status >= 400:
        return fallback_article(page, "http_error", f"HTTP {page.http_status}")
    if (page.content_type or "") not in HTML_TYPES:
        return fallback_article(page, "not_html", f"content type {page.content_type}")
    entry = page.entry
    try:
        tree = load_html(decode_html(page.body, page.charset))
        if tree is None:
            return fallback_article(page, "no_text", "page is not parseable HTML")
        stated = page_metadata(tree)
        document = trafilatura.bare_extraction(
            tree,
            url=page.final_url or entry.url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            deduplicate=False,
            prune_xpath=PRUNE_XPATH,
        )
    except (
        ValueError,
        TypeError,
        AttributeError,
        lxml_html.etree.LxmlError,
    ) as exc:  # trafilatura on garbage
        logger.warning("extraction failed for %s: %s", entry.url, exc)
        return fallback_article(page, "error", f"{type(exc).__name__}: {exc}")
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(re.findall(r"\w+", text)) < MIN_ARTICLE_WORDS:
        fallback = fallback_article(page, "no_text", "no article text found on the page")
        longer = text if len(text) > len(fallback.text or "") else fallback.text
        return replace(
            fallback, text=longer, declared_language=stated.get("declared_language") or entry.language
        )
    doc: Any = document
    text = drop_leading_title(text, doc.title or entry.title)
    return Article(
        url=entry.url,
        feed_url=entry.feed_url,
        link=entry.link,
        guid=entry.guid,
        title=(doc.title or entry.title or None),
        text=text,
        description=doc.description or entry.summary,
        authors=_split_authors(doc.author) or entry.authors,
        published_at=stated.get("published_at") or entry.published_at or _day_to_datetime(doc.date),
        modified_at=stated.get("modified_at"),
        site_name=doc.sitename or None,
        categories=tuple(doc.categories or ()),
        tags=tuple(doc.tags or ()),
        image=doc.image or None,
        fetched_at=page.fetched_at,
        extraction_status="ok",
        http_status=page.http_status,
        final_url=page.final_url,
        content_type=page.content_type,
        declared_language=stated.get("declared_language") or entry.language,
        raw_html=page.body,
    )


# --------------------------------------------------------------------------- Prefect tasks


@task(name="extract-batch", task_run_name="extract-batch {batch_no}", cache_policy=NO_CACHE)
def extract_batch(pages: list[Page], batch_no: int) -> list[Article]:
    """Extract a batch of fetched pages (CPU only, so no retries).

    Args:
        pages: Fetched pages.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        One article per page, in order.
    """
    return [extract_article(page) for page in pages]
