"""Canonical article URLs: one spelling of a link, so the same article is recognised across feeds and runs."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan


def canonical_url(link: str, base: str | None = None) -> str:
    """Canonicalise an article URL so that the same article is recognised across feeds and runs.

    Resolves relative links, lower-cases scheme and host, drops tracking parameters (utm_*, fbclid...)
    and the fragment, and sorts the query (courlan).

    Args:
        link: The link as the feed gave it.
        base: The feed's URL, for relative links.

    Returns:
        The canonical URL (the input, stripped, where it cannot be normalised).
    """
    link = link.strip()
    if base:
        link = urljoin(base, link)
    try:
        normalized = courlan.normalize_url(link, strict=False)
    except (ValueError, AttributeError):
        normalized = link
    parts = urlsplit(normalized)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
