"""Enrichment: a chain of pure enrichers, one module each, applied to every extracted article."""

from __future__ import annotations

from collections.abc import Callable

from prefect import task
from prefect.cache_policies import NONE as NO_CACHE

from tasks.enrich import fingerprint, language, stats
from tasks.records import Article

Enricher = Callable[[Article], Article]

# Order matters only where an enricher reads another's output; add new enrichers here, one module each.
ENRICHERS: tuple[Enricher, ...] = (
    language.enrich,
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


# --------------------------------------------------------------------------- Prefect tasks


@task(name="enrich-batch", task_run_name="enrich-batch {batch_no}", cache_policy=NO_CACHE)
def enrich_batch(articles: list[Article], batch_no: int) -> list[Article]:
    """Enrich a batch of articles (CPU only, so no retries).

    Args:
        articles: Extracted articles.
        batch_no: Position of the batch in the run, for the task name.

    Returns:
        The enriched articles, in order.
    """
    return [enrich_article(article) for article in articles]
