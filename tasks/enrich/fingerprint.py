"""Fingerprint: the body's near-duplicate signature, which the loader uses to group wire copies."""

from __future__ import annotations

from dataclasses import replace

from core.records import Article
from tasks import wirecopy


def enrich(article: Article) -> Article:
    """Set ``fingerprint`` for extracted articles (feed-summary fallbacks are too short to judge).

    Args:
        article: The article.

    Returns:
        The article with its fingerprint (None when there is no extracted body).
    """
    if article.extraction_status != "ok":
        return replace(article, fingerprint=None)
    return replace(article, fingerprint=wirecopy.fingerprint(article.text))
