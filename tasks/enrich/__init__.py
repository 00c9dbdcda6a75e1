"""Enrichment: a chain of pure enrichers, one module each, applied to every extracted article."""

from __future__ import annotations

from collections.abc import Callable

from core.records import Article
from tasks.enrich import dateline, fingerprint, keywords, language, quotes, stats

Enricher = Callable[[Article], Article]

# Order matters where an enricher reads another's output: language uses declared_language, dateline
# reads authors and the agencies extraction found, keywords need the language. One module each.
ENRICHERS: tuple[Enricher, ...] = (
    language.enrich,
    dateline.enrich,
    quotes.enrich,
    keywords.enrich,
    stats.enrich,
    fingerprint.enrich,
)


def enrich_article(article: Article, enrichers: tuple[Enricher, ...] = ENRICHERS) -> Article:
    """Apply every enricher to one article.

    Args:
        article: The extracted article.
        enrichers: The chain to apply (defaults to all).

    Returns:
        The enriched article.
    """
    for enricher in enrichers:
        article = enricher(article)
    return article
