"""Extraction quality on a truth.jsonl corpus: wirehouse against plain trafilatura, one table per language."""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "fundus"
SHINGLE = 4
_WORD = re.compile(r"\w+")

# ----------------------------------------------------------------------------------------- scoring


def tokens(text: str | None) -> list[str]:
    """Lower-cased ``\\w+`` tokens of a text (the benchmark's tokeniser)."""
    return _WORD.findall((text or "").lower())


def shingles(text: str | None, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Word n-gram multiset; a text shorter than ``n`` words is one shingle of all its words."""
    words = tokens(text)
    if not words:
        return Counter()
    return Counter(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))


def body_counts(truth: str | None, predicted: str | None) -> tuple[float, float, float]:
    """Shared, extra and missing shingles of one document, normalised so that tp + fp + fn = 1.

    Returns:
        ``(tp, fp, fn)``; all zero when both texts are empty.
    """
    expected, got = shingles(truth), shingles(predicted)
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def body_scores(counts: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Precision and recall as means over documents, F1 from those two means.

    A document with an empty prediction has precision 0 (it extracted nothing right), one with an
    empty truth has recall 0; this is the ScrapingHub article-extraction-benchmark convention.

    Returns:
        ``(precision, recall, f1)``.
    """
    if not counts:
        return 0.0, 0.0, 0.0
    precision = sum(tp / (tp + fp) if tp + fp else 0.0 for tp, fp, _ in counts) / len(counts)
    recall = sum(tp / (tp + fn) if tp + fn else 0.0 for tp, _, fn in counts) / len(counts)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def title_matches(truth: str | None, predicted: str | None) -> bool:
    """Titles are equal after NFKC, lower-casing and ``\\w+`` tokenising (an empty truth never matches)."""
    expected = tokens(unicodedata.normalize("NFKC", truth or ""))
    return bool(expected) and expected == tokens(unicodedata.normalize("NFKC", predicted or ""))


def parse_truth_datetime(value: str | None) -> datetime | None:
    """Read a truth date (``2024-04-22 15:26:46.863+00:00`` or naive); None where absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def date_matches(truth: str | None, predicted: datetime | date | None) -> bool:
    """Whether the predicted publication falls on the truth's calendar day.

    The day depends on the clock it is read on. Where the truth has an offset, the prediction is read on
    that clock (23:30+02:00 and 21:30Z are the same day there). Where the truth is naive it is the page's
    local wall time, so the prediction is read on its own clock: the offset the page stated. A bare date
    (plain trafilatura's answer) is taken as that day.
    """
    expected = parse_truth_datetime(truth)
    if expected is None or predicted is None:
        return False
    if not isinstance(predicted, datetime):
        return predicted == expected.date()
    if expected.tzinfo is not None and predicted.tzinfo is not None:
        return predicted.astimezone(expected.tzinfo).date() == expected.date()
    return predicted.date() == expected.date()


def normalise_name(name: str) -> str:
    """A name compared case- and punctuation-blind: NFKC, lower case, ``\\w+`` tokens joined by spaces."""
    return " ".join(tokens(unicodedata.normalize("NFKC", name)))


def author_f1(truth: Iterable[str], predicted: Iterable[str]) -> float:
    """Set F1 of normalised names for one document.

    An empty truth scores 1 when nothing was predicted and 0 otherwise: claiming authors a page does not
    state is an error like any other, and saying nothing there is right.
    """
    expected = {n for n in map(normalise_name, truth) if n}
    got = {n for n in map(normalise_name, predicted) if n}
    if not expected or not got:
        return 1.0 if expected == got else 0.0
    shared = len(expected & got)
    return 2 * shared / (len(expected) + len(got))


# ----------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Prediction:
    """What one system said about one page."""

    text: str | None
    title: str | None
    published: datetime | date | None
    authors: tuple[str, ...]
    language: str | None
    seconds: float


@dataclass
class Tally:
    """Scores of one system over a group of pages."""

    body: list[tuple[float, float, float]] = field(default_factory=list)
    title: list[bool] = field(default_factory=list)
    date: list[bool] = field(default_factory=list)
    authors: list[float] = field(default_factory=list)
    language: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, truth: dict[str, Any], got: Prediction) -> None:
        """Score one page."""
        self.body.append(body_counts(truth.get("body"), got.text))
        self.title.append(title_matches(truth.get("title"), got.title))
        self.date.append(date_matches(truth.get("publishing_date"), got.published))
        self.authors.append(author_f1(truth.get("authors") or (), got.authors))
        self.language.append(got.language == truth.get("language"))
        self.seconds.append(got.seconds)

    def row(self) -> dict[str, float]:
        """The table columns for this group."""
        precision, recall, f1 = body_scores(self.body)

        def mean(values: Sequence[float]) -> float:
            return sum(values) / len(values) if values else 0.0

        return {
            "n": len(self.body),
            "P": precision,
            "R": recall,
            "F1": f1,
            "title": mean([float(v) for v in self.title]),
            "date": mean([float(v) for v in self.date]),
            "authors": mean(self.authors),
            "lang": mean([float(v) for v in self.language]),
            "ms": 1000 * mean(self.seconds),
        }


def load_truth(corpus: Path) -> list[dict[str, Any]]:
    """Read ``truth.jsonl`` of a corpus folder."""
    with (corpus / "truth.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def crawl_time(row: dict[str, Any]) -> datetime:
    """When the page was crawled (naive crawl dates are UTC), else now."""
    parsed = parse_truth_datetime(row.get("crawl_date"))
    if parsed is None:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_wirehouse(html: bytes, row: dict[str, Any]) -> Prediction:
    """The project's own extraction, fed as from a link-only feed, then its language detection."""
    from tasks.enrich.language import detect_language
    from tasks.extract import extract_article
    from tasks.records import FeedEntry, Page

    url = row["url"]
    page = Page(
        entry=FeedEntry(feed_url="", url=url, link=url),
        fetched_at=crawl_time(row),
        final_url=url,
        http_status=200,
        content_type="text/html",
        body=html,
    )
    started = time.perf_counter()
    article = extract_article(page)
    seconds = time.perf_counter() - started
    code, _ = detect_language(article.text)
    authors = article.authors + article.agencies  # an agency credit is a byline, as the truth counts it
    return Prediction(article.text, article.title, article.published_at, authors, code, seconds)


def run_trafilatura(html: bytes, row: dict[str, Any]) -> Prediction:
    """Plain trafilatura (``bare_extraction`` with metadata) and langdetect (seed 0) on its text."""
    import trafilatura
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    started = time.perf_counter()
    document: Any = trafilatura.bare_extraction(
        html.decode("utf-8", "replace"), url=row["url"], with_metadata=True
    )
    seconds = time.perf_counter() - started
    if document is None:
        return Prediction(None, None, None, (), None, seconds)
    try:
        code: str | None = detect(document.text) if document.text else None
    except LangDetectException:
        code = None
    published = None
    if document.date:
        try:
            published = date.fromisoformat(document.date[:10])
        except ValueError:
            published = None
    authors = tuple(a.strip() for a in (document.author or "").split(";") if a.strip())
    return Prediction(document.text, document.title, published, authors, code, seconds)


SYSTEMS: dict[str, Callable[[bytes, dict[str, Any]], Prediction]] = {
    "wirehouse": run_wirehouse,
    "trafilatura": run_trafilatura,
}


def evaluate(corpus: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Run every system on every page of the corpus.

    Returns:
        ``{group: {system: columns}}`` with one group per truth language and ``all``.
    """
    tallies: dict[str, dict[str, Tally]] = {}
    for row in load_truth(corpus):
        html = gzip.decompress((corpus / row["file"]).read_bytes())
        group = row.get("language") or "?"
        for name, system in SYSTEMS.items():
            got = system(html, row)
            for key in (group, "all"):
                tallies.setdefault(key, {}).setdefault(name, Tally()).add(row, got)
    order = [*sorted(k for k in tallies if k != "all"), "all"]
    return {key: {name: tally.row() for name, tally in tallies[key].items()} for key in order}


def end_to_end_predictions(corpus: Path, warehouse: Path) -> list[tuple[dict[str, Any], Prediction]]:
    """Ingest the corpus as a user would and read each page back from the ``articles`` view.

    The pages are served on loopback through RSS feeds whose items carry only a link (so the feed adds
    nothing), the ``ingest`` flow runs in this process (it needs a Prefect API: a running server,
    ``prefect_test_harness`` or the temporary server), and the rows are matched to the truth by path.

    Args:
        corpus: A truth.jsonl corpus folder.
        warehouse: A DuckDB file to create (must not exist yet).

    Returns:
        ``(truth row, prediction)`` per page; a page without a row is an empty prediction.
    """
    from urllib.parse import urlsplit

    from bench.corpus_site import serve_corpus
    from flows.ingest import ingest
    from tasks.settings import exported_settings
    from warehouse.connection import open_warehouse

    # Loopback must be allowed; the corpus server is one host, so no politeness pause between pages.
    loopback = exported_settings(allow_private_hosts=("127.0.0.1",), host_delay=0, host_concurrency=8)
    with loopback, serve_corpus(corpus) as (_base, opml, pages):
        ingest(feeds=opml, warehouse=str(warehouse))
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT url, text, title, published_at, authors, agencies, language FROM articles"
        ).fetchall()
    by_path = {urlsplit(row[0]).path: row for row in rows}
    found = []
    for page in pages:
        row = by_path.get(page.path)
        if row is None:
            found.append((page.truth, Prediction(None, None, None, (), None, 0.0)))
            continue
        _url, text, title, published, authors, agencies, language = row
        credited = tuple(authors or ()) + tuple(agencies or ())
        found.append((page.truth, Prediction(text, title, published, credited, language, 0.0)))
    return found


def tally_predictions(
    results: Iterable[tuple[dict[str, Any], Prediction]], name: str
) -> dict[str, dict[str, dict[str, float]]]:
    """Score predictions per truth language and overall, as :func:`evaluate` does.

    Args:
        results: ``(truth row, prediction)`` pairs.
        name: The system's name in the table.

    Returns:
        ``{group: {name: columns}}``.
    """
    tallies: dict[str, Tally] = {}
    for row, got in results:
        for key in (row.get("language") or "?", "all"):
            tallies.setdefault(key, Tally()).add(row, got)
    order = [*sorted(k for k in tallies if k != "all"), "all"]
    return {key: {name: tallies[key].row()} for key in order}


def format_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """One plain-text table: a row per language and system."""
    header = f"{'lang':<5}{'n':>4}  {'system':<14}{'P':>7}{'R':>7}{'F1':>7}{'title':>7}{'date':>7}{'authors':>8}{'lang':>7}{'ms/page':>9}"
    lines = [header, "-" * len(header)]  # ms/page is 0 for end-to-end rows (timed by bench.speed)
    for group, systems in results.items():
        for name, col in systems.items():
            lines.append(
                f"{group:<5}{int(col['n']):>4}  {name:<14}{col['P']:>7.3f}{col['R']:>7.3f}{col['F1']:>7.3f}"
                f"{col['title']:>7.3f}{col['date']:>7.3f}{col['authors']:>8.3f}{col['lang']:>7.3f}{col['ms']:>9.1f}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the quality table for a corpus (exit 0 with a note where the corpus is absent)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also ingest the corpus with the ingest flow (loopback, link-only feeds) and score the "
        "articles view ('wirehouse e2e' rows)",
    )
    args = parser.parse_args(argv)
    if not (args.corpus / "truth.jsonl").is_file():
        print(f"corpus {args.corpus} is absent: nothing to measure")
        return 0
    results = evaluate(args.corpus)
    if args.end_to_end:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="wirehouse-quality-") as scratch:
            e2e = tally_predictions(
                end_to_end_predictions(args.corpus, Path(scratch) / "e2e.duckdb"), "wirehouse e2e"
            )
        for group, systems in e2e.items():
            results.setdefault(group, {}).update(systems)
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
