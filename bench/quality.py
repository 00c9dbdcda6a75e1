"""Extraction quality on truth.jsonl corpora: wirehouse against plain trafilatura.

Per folder, one table per language; then the per-page distribution of (wirehouse body F1 - trafilatura body
F1), and a leave-one-country-out estimate for each rule family that goes beyond plain trafilatura.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
DEFAULT_CORPUS = CORPORA / "fundus"
DEFAULT_CORPORA = (CORPORA / "fundus", CORPORA / "fundus-world")
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


# Words that, beside a publisher's name, make a credit the newsroom's rather than a person's ("BR24 Redaktion",
# "IN-Redaktion", "Staff"), as the corpus README defines person names.
_DESK_WORDS = frozenset(
    {"staff", "redaktion", "redaction", "rédaction", "redacción", "redazione", "team", "desk", "newsroom"}
    | {"editorial", "editors", "online", "news", "nachrichten", "digital", "agency", "agencies", "web"}
)
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _folded(text: str) -> str:
    """Letters and digits only, lower case, accents dropped ("Habertürk" and "haberturk" fold alike)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(tokens("".join(c for c in decomposed if not unicodedata.combining(c))))


_SITE_NAME = re.compile(
    rb"""<meta[^>]+property=["']og:site_name["'][^>]+content=["']([^"']+)""", re.IGNORECASE
)


def stated_site_name(html: bytes) -> str | None:
    """The page's ``og:site_name``: the publisher as the page names itself (for telling it from people)."""
    match = _SITE_NAME.search(html)
    return match.group(1).decode("utf-8", "replace").strip() if match else None


def publisher_keys(row: Mapping[str, Any]) -> set[str]:
    """Folded forms a page's publisher goes by: its name, its host and main host label, its initials."""
    keys: set[str] = {_folded(str(row["site_name"]))} if row.get("site_name") else set()
    publisher = str(row.get("publisher") or "")
    words = _CAMEL.findall(publisher) or publisher.split()
    if publisher:
        keys.add(_folded(publisher))
        if len(words) >= 2:
            keys.add("".join(w[0] for w in words).lower())
    host = (row.get("url") or "").split("/")[2] if "//" in (row.get("url") or "") else ""
    labels = [label for label in host.lower().split(".") if label and label not in ("www", "m")]
    if labels:
        keys.add(_folded(".".join(labels)))
        keys.update(_folded(label) for label in labels[:-1])
    return {k for k in keys if len(k) >= 2}


def is_person_credit(name: str, row: Mapping[str, Any]) -> bool:
    """Whether a credit names a person: not a news agency, not the publisher itself (README of the corpora).

    A part that an agency code reads ("AFP, MANILA", "dpa/lnw") makes the credit an agency's; the publisher
    is its name, host or initials once desk words ("Redaktion", "staff") are dropped.
    """
    from tasks.agencies import PRESS_RELEASE, agency_code

    parts = [name, *re.split(r"\s*[,;/|]\s*", name)]
    if any((code := agency_code(part)) and code != PRESS_RELEASE for part in parts if part.strip()):
        return False
    words = [w for w in re.split(r"[\s\-–]+", name) if w and _folded(w) not in _DESK_WORDS]
    folded = _folded(" ".join(words))
    if not folded:
        return False
    keys = publisher_keys(row)
    if any(folded == k or (len(k) >= 4 and folded.startswith(k)) for k in keys):
        return False
    # "DER SPIEGEL", "MDR SACHSEN-ANHALT": the host's name as one of the credit's words.
    return not any(len(k) >= 3 and k in {_folded(w) for w in words} for k in keys)


def person_f1(truth: Iterable[str], predicted: Iterable[str], row: Mapping[str, Any]) -> float:
    """Set F1 of person names only: agencies and the publisher dropped on both sides first."""
    return author_f1(
        [n for n in truth if is_person_credit(n, row)], [n for n in predicted if is_person_credit(n, row)]
    )


def _folded_snippet(text: str | None) -> str:
    """NFKC and whitespace folding, case kept (the snippet corpus's comparison)."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def snippet_counts(row: Mapping[str, Any], predicted: str | None) -> tuple[int, int, int, int]:
    """Snippets of a snippet-truth page (``with``/``without``): found, of, avoided, of.

    Returns:
        ``(with found, with total, without avoided, without total)``.
    """
    body = _folded_snippet(predicted)
    wanted = [_folded_snippet(s) for s in row.get("with") or ()]
    unwanted = [_folded_snippet(s) for s in row.get("without") or ()]
    found = sum(bool(s) and s in body for s in wanted)
    avoided = sum(not (s and s in body) for s in unwanted)
    return found, len(wanted), avoided, len(unwanted)


def snippet_accuracy(row: Mapping[str, Any], predicted: str | None) -> float:
    """One page's snippet accuracy: snippets found or avoided as they should be, of all its snippets."""
    found, wanted, avoided, unwanted = snippet_counts(row, predicted)
    return (found + avoided) / (wanted + unwanted) if wanted + unwanted else 1.0


def is_snippet_truth(row: Mapping[str, Any]) -> bool:
    """Whether a truth row scores the body by snippets (trafilatura-eval/) rather than a whole text."""
    return "with" in row and "body" not in row


def page_f1(counts: tuple[float, float, float]) -> float:
    """One document's body F1 from its normalised counts (0 where nothing matched)."""
    tp, fp, fn = counts
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


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
    confidence: float | None = None  # wirehouse's extraction_confidence
    seo_title: str | None = None  # wirehouse's seo_title: the title it took before the visible headline


@dataclass
class Tally:
    """Scores of one system over a group of pages."""

    body: list[tuple[float, float, float]] = field(default_factory=list)
    title: list[bool] = field(default_factory=list)
    date: list[bool] = field(default_factory=list)
    authors: list[float] = field(default_factory=list)
    names: list[float] = field(default_factory=list)
    language: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    snippets: list[tuple[int, int, int, int]] = field(default_factory=list)

    def add(self, truth: dict[str, Any], got: Prediction) -> None:
        """Score one page (language only where the truth knows the page's language)."""
        if is_snippet_truth(truth):
            # Snippet truth: the body by snippets; title and date only where the truth knows them.
            self.snippets.append(snippet_counts(truth, got.text))
            if truth.get("title"):
                self.title.append(title_matches(truth.get("title"), got.title))
            if truth.get("date"):
                self.date.append(date_matches(truth.get("date"), got.published))
            self.seconds.append(got.seconds)
            return
        self.body.append(body_counts(truth.get("body"), got.text))
        self.title.append(title_matches(truth.get("title"), got.title))
        self.date.append(date_matches(truth.get("publishing_date"), got.published))
        self.authors.append(author_f1(truth.get("authors") or (), got.authors))
        self.names.append(person_f1(truth.get("authors") or (), got.authors, truth))
        if truth.get("language"):
            self.language.append(got.language == truth.get("language"))
        self.seconds.append(got.seconds)

    def row(self) -> dict[str, float]:
        """The table columns for this group."""
        precision, recall, f1 = body_scores(self.body)

        def mean(values: Sequence[float]) -> float:
            return sum(values) / len(values) if values else 0.0

        if self.snippets:
            return {
                "n": len(self.snippets),
                "acc": mean([(f + a) / (n + m) if n + m else 1.0 for f, n, a, m in self.snippets]),
                "with": mean([f / n for f, n, _, _ in self.snippets if n]),
                "without": mean([a / m for _, _, a, m in self.snippets if m]),
                "title": mean([float(v) for v in self.title]),
                "date": mean([float(v) for v in self.date]),
                "ms": 1000 * mean(self.seconds),
            }
        return {
            "n": len(self.body),
            "P": precision,
            "R": recall,
            "F1": f1,
            "title": mean([float(v) for v in self.title]),
            "date": mean([float(v) for v in self.date]),
            "authors": mean(self.authors),
            "names": mean(self.names),
            # No page of known language in the group: nothing to get wrong.
            "lang": mean([float(v) for v in self.language]) if self.language else 1.0,
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


def run_wirehouse(html: bytes, row: dict[str, Any], rules: frozenset[str] | None = None) -> Prediction:
    """The project's own extraction, fed as from a link-only feed, then its language enricher.

    Args:
        html: The page.
        row: Its truth row (URL and crawl time).
        rules: Body rule families to apply (all where None; fewer to measure one).
    """
    from core.records import FeedEntry, Page
    from tasks.enrich.language import enrich
    from tasks.extract import BODY_RULES, extract_article

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
    article = extract_article(page, BODY_RULES if rules is None else rules)
    seconds = time.perf_counter() - started
    code = enrich(article).language
    authors = article.authors + article.agencies  # an agency credit is a byline, as the truth counts it
    return Prediction(
        article.text,
        article.title,
        article.published_at,
        authors,
        code,
        seconds,
        article.extraction_confidence,
        article.seo_title,
    )


def run_trafilatura(html: bytes, row: dict[str, Any]) -> Prediction:
    """Plain trafilatura (``bare_extraction`` with metadata) and langdetect (seed 0) on its text."""
    import trafilatura
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    started = time.perf_counter()
    # Snippet-truth pages come in the charset they were served in: trafilatura decodes those itself.
    given: str | bytes = html if is_snippet_truth(row) else html.decode("utf-8", "replace")
    document: Any = trafilatura.bare_extraction(given, url=row["url"], with_metadata=True)
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


@dataclass(frozen=True)
class PageRun:
    """One page of a corpus with every system's prediction for it."""

    folder: str
    row: dict[str, Any]
    html: bytes
    got: dict[str, Prediction]


def run_pages(corpus: Path) -> list[PageRun]:
    """Run every system on every page of a corpus folder."""
    runs = []
    for truth in load_truth(corpus):
        html = gzip.decompress((corpus / truth["file"]).read_bytes())
        row = {**truth, "site_name": stated_site_name(html)}
        got = {name: system(html, row) for name, system in SYSTEMS.items()}
        runs.append(PageRun(corpus.name, row, html, got))
    return runs


def tabulate(runs: Iterable[PageRun]) -> dict[str, dict[str, dict[str, float]]]:
    """Score page runs per truth language and overall.

    Returns:
        ``{group: {system: columns}}`` with one group per truth language (``?`` where unknown) and ``all``.
    """
    tallies: dict[str, dict[str, Tally]] = {}
    for run in runs:
        group = run.row.get("language") or "?"
        for name, got in run.got.items():
            for key in (group, "all"):
                tallies.setdefault(key, {}).setdefault(name, Tally()).add(run.row, got)
    order = [*sorted(k for k in tallies if k != "all"), "all"]
    return {key: {name: tally.row() for name, tally in tallies[key].items()} for key in order}


def evaluate(corpus: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Run every system on every page of the corpus and score them (see :func:`tabulate`)."""
    return tabulate(run_pages(corpus))


def body_deltas(runs: Iterable[PageRun]) -> list[tuple[float, str]]:
    """Per page, wirehouse body F1 minus plain trafilatura's, with the page's file; lowest first."""
    found = []
    for run in runs:
        truth = run.row.get("body")
        if is_snippet_truth(run.row):  # snippet accuracy there, not F1
            ours, theirs = (
                snippet_accuracy(run.row, run.got[name].text) for name in ("wirehouse", "trafilatura")
            )
        else:
            ours = page_f1(body_counts(truth, run.got["wirehouse"].text))
            theirs = page_f1(body_counts(truth, run.got["trafilatura"].text))
        found.append((ours - theirs, f"{run.folder}/{run.row['file']}"))
    return sorted(found)


def format_deltas(deltas: Sequence[tuple[float, str]], worst: int = 5) -> str:
    """The distribution of per-page body F1 differences, in a few lines."""
    values = [d for d, _ in deltas]
    if not values:
        return "no pages"

    def quantile(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    marks = ", ".join(
        f"{name} {quantile(q):+.3f}" for name, q in (("p10", 0.1), ("p25", 0.25), ("median", 0.5))
    )
    marks += ", " + ", ".join(f"{name} {quantile(q):+.3f}" for name, q in (("p75", 0.75), ("p90", 0.9)))
    lines = [
        f"wirehouse - trafilatura, body F1 per page ({len(values)} pages): min {values[0]:+.3f}, {marks}, "
        f"max {values[-1]:+.3f}, mean {sum(values) / len(values):+.4f}",
        f"  pages below -0.05: {sum(v < -0.05 for v in values)}; below 0: {sum(v < -0.0005 for v in values)}; "
        f"same: {sum(abs(v) <= 0.0005 for v in values)}; above 0: {sum(v > 0.0005 for v in values)}",
        "  lowest: " + ", ".join(f"{name.removesuffix('.html.gz')} {d:+.3f}" for d, name in deltas[:worst]),
    ]
    return "\n".join(lines)


CONFIDENCE_BANDS = ((0.0, 0.5), (0.5, 0.8), (0.8, 1.01))


def calibration(runs: Iterable[PageRun]) -> list[tuple[str, int, float]]:
    """Pages by wirehouse's extraction_confidence band and their mean body score (F1, or snippet accuracy).

    Returns:
        ``(band, pages, mean score)`` per band, lowest band first (mean 0 for an empty band).
    """
    scored: list[tuple[float, float]] = []
    for run in runs:
        got = run.got["wirehouse"]
        score = (
            snippet_accuracy(run.row, got.text)
            if is_snippet_truth(run.row)
            else page_f1(body_counts(run.row.get("body"), got.text))
        )
        scored.append((got.confidence or 0.0, score))
    found = []
    for low, high in CONFIDENCE_BANDS:
        inside = [s for c, s in scored if low <= c < high]
        label = f"[{low:.1f}, {min(high, 1.0):.1f}{']' if high > 1 else ')'}"
        found.append((label, len(inside), sum(inside) / len(inside) if inside else 0.0))
    return found


def format_calibration(bands: Sequence[tuple[str, int, float]]) -> str:
    """The calibration table: pages and mean body score per confidence band."""
    lines = ["extraction_confidence   pages  mean body score (F1; snippet accuracy on snippet truth)"]
    lines += [f"{label:<22}{n:>7}  {mean:.3f}" for label, n, mean in bands]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- rule families


def _body_metric(row: dict[str, Any], got: Prediction) -> float | None:
    return page_f1(body_counts(row.get("body"), got.text))


def _title_metric(row: dict[str, Any], got: Prediction) -> float | None:
    return float(title_matches(row.get("title"), got.title))


def _date_metric(row: dict[str, Any], got: Prediction) -> float | None:
    return float(date_matches(row.get("publishing_date"), got.published))


def _names_metric(row: dict[str, Any], got: Prediction) -> float | None:
    return person_f1(row.get("authors") or (), got.authors, row)


def _language_metric(row: dict[str, Any], got: Prediction) -> float | None:
    return float(got.language == row["language"]) if row.get("language") else None


def _without_body_rule(family: str) -> Callable[[PageRun], Prediction]:
    def run(page: PageRun) -> Prediction:
        from tasks.extract import BODY_RULES

        return run_wirehouse(page.html, page.row, BODY_RULES - {family})

    return run


def _with_trafilatura(field_name: str) -> Callable[[PageRun], Prediction]:
    """Off: the field as plain trafilatura gives it, everything else as wirehouse does."""

    def run(page: PageRun) -> Prediction:
        from dataclasses import replace

        return replace(page.got["wirehouse"], **{field_name: getattr(page.got["trafilatura"], field_name)})

    return run


def _stated_title(page: PageRun) -> Prediction:
    """Off: the page's most trusted stated title, the visible headline not preferred (``seo_title``)."""
    from dataclasses import replace

    ours = page.got["wirehouse"]
    return replace(ours, title=ours.seo_title or ours.title)


def _langdetect_alone(page: PageRun) -> Prediction:
    """Off: langdetect's answer on wirehouse's own body, no declared language, no second detector."""
    from dataclasses import replace

    from tasks.enrich.language import detect_language

    ours = page.got["wirehouse"]
    return replace(ours, language=detect_language(ours.text)[0])


# Each family: the column it is for, and how a page comes out with the family switched off.
FAMILIES: dict[
    str, tuple[str, Callable[[dict[str, Any], Prediction], float | None], Callable[[PageRun], Prediction]]
] = {
    "pruning": ("body F1", _body_metric, _without_body_rule("pruning")),
    "cross_check": ("body F1", _body_metric, _without_body_rule("cross_check")),
    "leading_title": ("body F1", _body_metric, _without_body_rule("leading_title")),
    "embedded": ("body F1", _body_metric, _without_body_rule("embedded")),
    "safety_net": ("body F1", _body_metric, _without_body_rule("safety_net")),
    "titles": ("title", _title_metric, _with_trafilatura("title")),
    "visible_title": ("title", _title_metric, _stated_title),
    "bylines": ("names", _names_metric, _with_trafilatura("authors")),
    "dates": ("date", _date_metric, _with_trafilatura("published")),
    "language": ("lang", _language_metric, _langdetect_alone),
}


@dataclass(frozen=True)
class FamilyEstimate:
    """What one rule family does, per country and held out."""

    family: str
    metric: str
    pages: int
    mean: float  # mean over pages of (on - off)
    by_country: dict[str, tuple[float, int]]  # country -> (mean on - off, pages)
    held_out: float  # leave-one-country-out: mean gain on held-out pages of deciding on/off from the rest
    kept_folds: int  # folds in which the other countries said "keep it on"


def leave_one_country_out(family: str, metric: str, deltas: Sequence[tuple[str, float]]) -> FamilyEstimate:
    """Decide on/off for each country from all the others, and score that decision on the country left out.

    A family that helps the countries it was written for and hurts the rest shows a held-out gain below its
    overall gain, and countries where it hurts.

    Args:
        family: The family's name.
        metric: The column it is measured on.
        deltas: ``(country, on - off)`` per page.

    Returns:
        The estimate.
    """
    by_country: dict[str, list[float]] = {}
    for country, delta in deltas:
        by_country.setdefault(country, []).append(delta)
    total = sum(d for _, d in deltas)
    held_out = 0.0
    kept = 0
    for values in by_country.values():
        rest = len(deltas) - len(values)
        keep = rest > 0 and (total - sum(values)) / rest > 0
        kept += keep
        held_out += sum(values) if keep else 0.0
    n = len(deltas)
    return FamilyEstimate(
        family,
        metric,
        n,
        total / n if n else 0.0,
        {c: (sum(v) / len(v), len(v)) for c, v in sorted(by_country.items())},
        held_out / n if n else 0.0,
        kept,
    )


def family_estimates(runs: Sequence[PageRun], families: Iterable[str] | None = None) -> list[FamilyEstimate]:
    """Switch each rule family off in turn and estimate, country by country, what it is worth."""
    found = []
    for family in families or FAMILIES:
        metric, score, switched_off = FAMILIES[family]
        deltas = []
        for run in runs:
            on, off = score(run.row, run.got["wirehouse"]), score(run.row, switched_off(run))
            if on is not None and off is not None:
                deltas.append((str(run.row.get("country") or "?"), on - off))
        found.append(leave_one_country_out(family, metric, deltas))
    return found


def format_estimates(estimates: Sequence[FamilyEstimate]) -> str:
    """The leave-one-country-out table: one line per family, then the countries each one hurts."""
    countries = len({c for e in estimates for c in e.by_country})
    header = (
        f"{'family':<14}{'metric':<9}{'pages':>6}{'on-off':>9}{'helps':>7}{'hurts':>7}{'same':>6}"
        f"{'held-out':>10}{'kept':>7}  countries where on < off (mean on-off, pages)"
    )
    lines = [
        f"rule families, leave-one-country-out over {countries} countries: on vs off per country; 'held-out' is "
        "the mean gain per page when each country's on/off is decided by all the others",
        header,
        "-" * len(header),
    ]
    for e in estimates:
        values = list(e.by_country.values())
        helps = sum(m > 1e-9 for m, _ in values)
        hurts = [(c, m, n) for c, (m, n) in e.by_country.items() if m < -1e-9]
        lines.append(
            f"{e.family:<14}{e.metric:<9}{e.pages:>6}{e.mean:>+9.4f}{helps:>7}{len(hurts):>7}"
            f"{len(values) - helps - len(hurts):>6}{e.held_out:>+10.4f}{e.kept_folds:>4}/{len(values):<2}  "
            + (", ".join(f"{c} {m:+.3f} ({n})" for c, m, n in hurts) or "none")
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- end to end


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

    from core.settings import exported_settings
    from flows.ingest import ingest
    from tests.support.corpus_site import serve_corpus
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
    """One plain-text table: a row per language and system.

    The columns are the issue's: body P/R/F1, title, date, person names (agencies and the publisher dropped
    on both sides, as the corpora's README defines them) and language (pages of known language only). The
    raw author set F1 stays in the results (``authors``) but is not printed: it counts a publisher credit
    as an author, which wirehouse puts in ``site_name`` by design.
    """
    header = (
        f"{'lang':<5}{'n':>4}  {'system':<14}{'P':>7}{'R':>7}{'F1':>7}{'title':>7}{'date':>7}{'names':>7}"
        f"{'lang':>7}{'ms/page':>9}"
    )
    lines = [header, "-" * len(header)]  # ms/page is 0 for end-to-end rows (timed by bench.speed)
    if any("acc" in col for systems in results.values() for col in systems.values()):
        header = (
            f"{'lang':<5}{'n':>4}  {'system':<14}{'snippets':>9}{'with':>7}{'without':>8}{'title':>7}{'date':>7}"
            f"{'ms/page':>9}"
        )
        lines = [header, "-" * len(header)]
        for group, systems in results.items():
            for name, col in systems.items():
                lines.append(
                    f"{group:<5}{int(col['n']):>4}  {name:<14}{col['acc']:>9.3f}{col['with']:>7.3f}"
                    f"{col['without']:>8.3f}{col['title']:>7.3f}{col['date']:>7.3f}{col['ms']:>9.1f}"
                )
        return "\n".join(lines)
    for group, systems in results.items():
        for name, col in systems.items():
            lines.append(
                f"{group:<5}{int(col['n']):>4}  {name:<14}{col['P']:>7.3f}{col['R']:>7.3f}{col['F1']:>7.3f}"
                f"{col['title']:>7.3f}{col['date']:>7.3f}{col['names']:>7.3f}{col['lang']:>7.3f}{col['ms']:>9.1f}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the quality tables for the corpora (exit 0 with a note where a corpus is absent)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--corpus",  # a snippet-truth folder (trafilatura-eval/) is scored by snippets, titles and dates
        type=Path,
        action="append",
        help="a truth.jsonl folder; repeat for several (default: ../shared/corpora/fundus and fundus-world)",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also ingest each corpus with the ingest flow (loopback, link-only feeds) and score the "
        "articles view ('wirehouse e2e' rows)",
    )
    parser.add_argument(
        "--no-families", action="store_true", help="skip the leave-one-country-out estimate of rule families"
    )
    args = parser.parse_args(argv)
    everything: list[PageRun] = []
    for corpus in args.corpus or DEFAULT_CORPORA:
        if not (corpus / "truth.jsonl").is_file():
            print(f"corpus {corpus} is absent: nothing to measure")
            continue
        runs = run_pages(corpus)
        # Rule families are scored on whole-text truth by country; snippet pages have neither.
        everything.extend(run for run in runs if not is_snippet_truth(run.row))
        results = tabulate(runs)
        if args.end_to_end:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="wirehouse-quality-") as scratch:
                e2e = tally_predictions(
                    end_to_end_predictions(corpus, Path(scratch) / "e2e.sqlite"), "wirehouse e2e"
                )
            for group, systems in e2e.items():
                results.setdefault(group, {}).update(systems)
        print(f"== {corpus.name}/ ({len(runs)} pages)")
        print(format_table(results))
        print(format_deltas(body_deltas(runs)))
        print(format_calibration(calibration(runs)))
        print()
    if everything and not args.no_families:
        print(format_estimates(family_estimates(everything)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
