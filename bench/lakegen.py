"""A realistic lake for scale benches, filled by bulk writes: distinct articles, wire copies, a year of dates.

Run: ``.venv/bin/python -m bench.lakegen --articles 100000 --out /tmp/lake/news.sqlite``.

The lake is created by the project's own migrations (views, `wirehouse stats`, `query` and `search`
work on it), then filled chunk by chunk: worker processes make the articles (`core.records.Article`,
fingerprinted by `tasks.wirecopy.fingerprint` as the ingest's workers do) and turn them into the very
Arrow tables `store_articles` writes (`warehouse.articles.articles_table`, `raw_pages_table`,
`quotes_table`, and the band keys of `tasks.wirecopy.band_keys`); this process inserts each chunk
into `article_store`, `raw_pages`, `quotes` and `story_keys` in one transaction. Migrations newer than
the generator (KNOWN_SCHEMA) are applied after the fill, as on a lake of an older wirehouse. The search index is
then built by the catch-up the first run of an ingest would do (`catch_up_search_index`, no mark yet).

What the articles look like:

* Texts are drawn from a synthetic vocabulary with a Zipf-like word frequency (news-length bodies of
  200 to 800 words in paragraphs and sentences), so every article has its own fingerprint while the
  index's term statistics grow as with real text. Some sentences are direct quotes (“…”, said X),
  stored in `quotes` with their offsets as the enrichment finds them.
* About ``copy_share`` (7 %) of the articles are wire copies: the text of an earlier article from
  another outlet, 10 minutes to 3 days later, with a dateline added, ~3 % of the words replaced and
  sometimes the last paragraph cut. They share LSH bands with their original, and their ``story_id``
  is the original's URL, which is what the ingest's grouping gives them (tests/bench checks it).
* ``failed_share`` (2 %) of the rows are HTTP errors (no text, no fingerprint, no raw page).
* Dates are spread over a year and rows are written in fetch order (chunk by chunk through the year),
  as a year of ingests leaves them; 240 outlets in five languages.
* Raw pages are small: the text wrapped in minimal HTML (1 to 3 KB compressed, a real page is 20 to
  60 KB), so that a million articles fit a disk budget of a few GB. Benches of raw-page reads on
  such a lake understate their cost.

A table a later migration derives from `article_store` is only filled if that migration back-fills
it: the generator writes the four tables above and nothing else.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import multiprocessing
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

RUN_ID = "lakegen"
# The newest migration whose columns the generated rows carry (011 added the page signals). Later migrations
# run after the fill, so that one back-filling a new table from article_store (an index) sees the rows.
KNOWN_SCHEMA = 11
COPY_SHARE = 0.07
FAILED_SHARE = 0.02
OUTLETS = 240
VOCABULARY = 40_000
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
_LANGUAGES = ("de", "de", "en", "en", "fr", "es", "it")  # outlets per language, roughly as in the corpus
_AGENCIES = ("dpa", "afp", "reuters", "ap", "ansa", "efe")
_CATEGORIES = ("politics", "business", "sports", "culture", "science", "local", "world", "tech")
_QUOTE = re.compile(r"“([^”]{20,})”")
_KEY_SCHEMA = pa.schema(
    [("band_key", pa.int64()), ("url", pa.string()), ("seen_at", pa.timestamp("us", tz="UTC"))]
)
# The table names are this module's own (chunk_tables' keys), never input.
_INSERT = "INSERT INTO {table} BY NAME (SELECT * FROM generated)"
_SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"] + ["an", "el", "in", "or", "us", "ar"]


# ------------------------------------------------------------------------------------------ words


@dataclass(frozen=True)
class _Words:
    """The vocabulary and its cumulative Zipf weights (frequent words first)."""

    words: list[str]
    cdf: np.ndarray[Any, np.dtype[np.float64]]
    outlets: list[tuple[str, str, str]]  # (site name, host, language)
    people: list[str]
    places: list[str]

    def draw(self, rng: np.random.Generator, count: int) -> list[str]:
        """``count`` words, frequent ones more often (Zipf with an offset, as news vocabulary goes)."""
        picks = np.searchsorted(self.cdf, rng.random(count))
        return [self.words[i] for i in picks]


_WORDS: _Words | None = None


def words() -> _Words:
    """The fixed vocabulary (the same for every lake: seeds change texts, not the language)."""
    global _WORDS
    if _WORDS is None:
        rng = np.random.default_rng(20250101)
        seen: dict[str, None] = {}
        while len(seen) < VOCABULARY:
            # Frequent words are short, as in real text: the syllable count grows along the list.
            rank = len(seen) + np.arange(VOCABULARY)
            lengths = 1 + np.minimum(4, rng.exponential(0.6 + 2.5 * rank / VOCABULARY).astype(int))
            picks = rng.integers(len(_SYLLABLES), size=(VOCABULARY, 5))
            for length, row in zip(lengths.tolist(), picks.tolist(), strict=True):
                seen.setdefault("".join(_SYLLABLES[i] for i in row[:length]), None)
        seen = dict.fromkeys(list(seen)[:VOCABULARY])
        vocabulary = list(seen)
        weights = 1.0 / (np.arange(VOCABULARY) + 10.0)
        cdf = np.cumsum(weights) / weights.sum()
        names = [w for w in vocabulary[2000:] if len(w) > 4]
        outlets = []
        for k in range(OUTLETS):
            name = names[k].capitalize()
            outlets.append(
                (
                    f"{name} {('Post', 'Zeitung', 'Journal', 'Times', 'Courier')[k % 5]}",
                    f"www.{name.lower()}-{k}.example",
                    _LANGUAGES[k % len(_LANGUAGES)],
                )
            )
        people = [
            f"{a.capitalize()} {b.capitalize()}" for a, b in zip(names[300:800], names[800:1300], strict=True)
        ]
        places = [p.capitalize() for p in names[1300:1500]]
        _WORDS = _Words(vocabulary, cdf, outlets, people, places)
    return _WORDS


def body(rng: np.random.Generator) -> str:
    """A news-length text: paragraphs of sentences, some of them direct quotes."""
    vocab = words()
    tokens = vocab.draw(rng, int(rng.integers(200, 800)))
    paragraphs = []
    at = 0
    while at < len(tokens):
        end = min(len(tokens), at + int(rng.integers(30, 90)))
        sentences = []
        while at < end:
            length = int(rng.integers(6, 20))
            sentence = " ".join(tokens[at : min(end, at + length)]).capitalize()
            at += length
            if rng.random() < 0.06 and len(sentence) > 30:
                speaker = vocab.people[int(rng.integers(len(vocab.people)))]
                sentences.append(f"“{sentence}”, {speaker} said.")
            else:
                sentences.append(sentence + ".")
        paragraphs.append(" ".join(sentences))
    return "\n".join(paragraphs)


def edited(text: str, rng: np.random.Generator, dateline: str) -> str:
    """A wire copy's text: the dateline first, ~3 % of the words replaced, maybe the last paragraph cut."""
    vocab = words()
    tokens = text.split(" ")
    for position in rng.integers(0, len(tokens), max(1, len(tokens) * 3 // 100)):
        if "\n" not in tokens[position] and "“" not in tokens[position] and "”" not in tokens[position]:
            tokens[position] = vocab.words[int(rng.integers(len(vocab.words)))]
    paragraphs = " ".join(tokens).split("\n")
    if len(paragraphs) > 3 and rng.random() < 0.5:
        paragraphs = paragraphs[:-1]
    return dateline + "\n".join(paragraphs)


def quotes_of(text: str) -> tuple[Any, ...]:
    """The direct quotes of a text, with their offsets (the marks left out, as the enrichment does)."""
    from core.records import Quote

    return tuple(
        Quote(n, m.group(1), m.start(1), m.end(1)) for n, m in enumerate(_QUOTE.finditer(text), start=1)
    )


def raw_page(title: str, text: str, language: str) -> bytes:
    """The text wrapped in minimal HTML, zlib-compressed as `raw_pages` keeps it (small on purpose)."""
    from core.rawhtml import compress_html

    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n"))
    html = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body><article><h1>{escape(title)}</h1>{paragraphs}</article></body></html>"
    )
    return compress_html(html.encode("utf-8"))


# ------------------------------------------------------------------------------------------ articles


@dataclass(frozen=True)
class Original:
    """A stored article a new wire copy may be made of."""

    url: str
    title: str
    text: str
    seen_at: datetime
    outlet: int = -1  # index into the outlets, -1: unknown (any outlet but the copy's is fine)


def _article(
    n: int,
    seen: datetime,
    outlet: int,
    rng: np.random.Generator,
    *,
    text: str | None,
    title: str,
    agencies: tuple[str, ...] = (),
    dateline_place: str | None = None,
    story_id: str | None = None,
    status: str = "ok",
) -> Any:
    """One stored article as the ingest makes it (fingerprint, quotes, stats, raw page)."""
    from core.records import Article
    from tasks import wirecopy
    from tasks.enrich.stats import content_hash, reading_time_min

    vocab = words()
    site, host, language = vocab.outlets[outlet]
    url = f"https://{host}/{seen:%Y/%m/%d}/{title.split()[0].lower()}-{n:07d}"
    fetched = seen + timedelta(minutes=float(rng.uniform(1, 30)))
    if status != "ok" or text is None:
        return Article(
            url=url, feed_url=f"https://{host}/feed", link=url, guid=url, title=None, text=None,
            fetched_at=fetched, extraction_status="http_error", extraction_error="HTTP 404 Not Found",
            http_status=404, final_url=url, content_type="text/html", story_id=url if story_id is None else story_id,
        )  # fmt: skip
    paragraphs = text.count("\n") + 1
    word_count = len(text.split())
    author = vocab.people[int(rng.integers(len(vocab.people)))]
    return Article(
        url=url,
        feed_url=f"https://{host}/feed",
        link=url,
        guid=url,
        title=title,
        text=text,
        fetched_at=fetched,
        extraction_status="ok",
        http_status=200,
        final_url=url,
        content_type="text/html; charset=utf-8",
        description=text.split(".")[0][:200] + ".",
        authors=(author,),
        published_at=seen,
        site_name=site,
        categories=(_CATEGORIES[int(rng.integers(len(_CATEGORIES)))],),
        tags=tuple(vocab.draw(rng, 3)),
        image=f"https://{host}/img/{n:07d}.jpg" if rng.random() < 0.7 else None,
        declared_language=language,
        language=language,
        language_confidence=round(float(rng.uniform(0.85, 1.0)), 3),
        word_count=word_count,
        reading_time_min=reading_time_min(text),
        content_hash=content_hash(text),
        agencies=agencies,
        dateline_place=dateline_place,
        title_language=language,
        keywords=tuple(vocab.draw(rng, 5)),
        paragraph_count=paragraphs,
        paywalled=bool(rng.random() < 0.1),
        quotes=quotes_of(text),
        fingerprint=wirecopy.fingerprint(text),
        story_id=story_id,
        charset="utf-8",
        raw_html_zlib=raw_page(title, text, language),
    )


def make_articles(
    seed: int,
    start: int,
    count: int,
    begin: datetime,
    end: datetime,
    *,
    copy_share: float = COPY_SHARE,
    failed_share: float = FAILED_SHARE,
    originals: Sequence[Original] = (),
    with_story_ids: bool = True,
) -> list[Any]:
    """Articles ``start`` to ``start + count`` of a lake, seen between ``begin`` and ``end``, in fetch order.

    Args:
        seed: The lake's seed (the same seed and range give the same articles).
        start: Number of the first article (URLs hold it, so ranges never share a URL).
        count: How many.
        begin: Earliest publication time.
        end: Latest publication time of an original (copies come up to 3 days later).
        copy_share: Share of wire copies: of an article of the same range, or of ``originals`` if given.
        failed_share: Share of HTTP errors (no text).
        originals: Stored articles to make the copies of (a new batch copying the lake's recent news).
        with_story_ids: Set ``story_id`` as the ingest's grouping would (off: left to ``store_articles``).

    Returns:
        `core.records.Article` values, sorted by fetch time.
    """
    vocab = words()
    rng = np.random.default_rng([seed, start, count])
    copy_count = round(count * copy_share)
    span = (end - begin).total_seconds()
    # Plans first (cheap), texts after: (seen, outlet, original plan index or -1, stored original, failed).
    plans: list[tuple[datetime, int, int, Original | None, bool]] = []
    for _ in range(count - copy_count):
        seen = begin + timedelta(seconds=float(rng.uniform(0, span)))
        plans.append((seen, int(rng.integers(OUTLETS)), -1, None, bool(rng.random() < failed_share)))
    # Wire stories: about one original in two of those copied gets a second copy or more.
    sources = [i for i, plan in enumerate(plans) if not plan[4]]
    wire = rng.choice(len(sources), size=max(1, copy_count // 2), replace=True) if sources else []
    for _ in range(copy_count):
        stored = originals[int(rng.integers(len(originals)))] if originals else None
        source = -1 if stored or not sources else sources[int(wire[int(rng.integers(len(wire)))])]
        base_seen = stored.seen_at if stored else plans[source][0] if source >= 0 else begin
        base_outlet = stored.outlet if stored else plans[source][1] if source >= 0 else -1
        seen = base_seen + timedelta(minutes=float(rng.uniform(10, 3 * 24 * 60)))
        outlet = (
            (base_outlet + 1 + int(rng.integers(OUTLETS - 1))) % OUTLETS
            if base_outlet >= 0
            else int(rng.integers(OUTLETS))
        )
        plans.append((seen, outlet, source, stored, False))
    # Originals are written first so that a copy can take their text and URL; rows are sorted after.
    made: dict[int, Any] = {}
    for i, (seen, outlet, source, stored, failed) in enumerate(plans):
        article_rng = np.random.default_rng([seed, start, i])
        n = start + i
        if source < 0 and stored is None:
            text = None if failed else body(article_rng)
            title = " ".join(vocab.draw(article_rng, int(article_rng.integers(5, 11)))).capitalize()
            agencies = (
                (_AGENCIES[int(article_rng.integers(len(_AGENCIES)))],) if article_rng.random() < 0.2 else ()
            )
            made[i] = _article(
                n, seen, outlet, article_rng, text=text, title=title, agencies=agencies,
                story_id=None, status="failed" if failed else "ok",
            )  # fmt: skip
            continue
        base = made[source] if stored is None else stored
        place = vocab.places[int(article_rng.integers(len(vocab.places)))]
        agency = _AGENCIES[int(article_rng.integers(len(_AGENCIES)))]
        text = edited(base.text, article_rng, f"{place.upper()} ({agency}) – ")
        made[i] = _article(
            n, seen, outlet, article_rng, text=text, title=base.title, agencies=(agency,),
            dateline_place=place, story_id=base.url if stored is None else None,
        )  # fmt: skip
    ordered = [made[i] for i in sorted(range(len(plans)), key=lambda i: (made[i].fetched_at, made[i].url))]
    if not with_story_ids:
        return [replace(a, story_id=None) for a in ordered]
    # An original is its own story's root; a copy got the story_id of its original above.
    return [a if a.story_id else replace(a, story_id=a.url) for a in ordered]


def key_table(articles: Sequence[Any]) -> pa.Table:
    """The `story_keys` rows of articles, as `warehouse.stories.assign_story_ids` makes them."""
    from tasks import wirecopy

    keys: list[int] = []
    urls: list[str] = []
    seen: list[datetime] = []
    for a in articles:
        bands = wirecopy.band_keys(a.fingerprint)
        keys += bands
        urls += [a.url] * len(bands)
        seen += [a.published_at or a.fetched_at] * len(bands)
    return pa.table({"band_key": keys, "url": urls, "seen_at": seen}, schema=_KEY_SCHEMA)


def chunk_tables(seed: int, start: int, count: int, begin: datetime, end: datetime) -> dict[str, pa.Table]:
    """One chunk of a lake as the tables `store_articles` writes (run in a worker process)."""
    from warehouse.articles import articles_table, quotes_table, raw_pages_table

    articles = make_articles(seed, start, count, begin, end)
    return {
        "article_store": articles_table(articles, RUN_ID),
        "raw_pages": raw_pages_table(articles),
        "quotes": quotes_table(articles),
        "story_keys": key_table(articles),
    }


# ------------------------------------------------------------------------------------------ the lake


@dataclass(frozen=True)
class FillStats:
    """What filling a lake took."""

    articles: int
    fill_seconds: float  # generating and inserting (overlapped)
    insert_seconds: float  # this process's inserts alone
    index_seconds: float
    index_docs: int
    disk_bytes: int

    @property
    def articles_per_second(self) -> float:
        """Articles per second of the whole fill, index included."""
        return self.articles / max(1e-9, self.fill_seconds + self.index_seconds)

    def line(self) -> str:
        """One line for a bench's output."""
        return (
            f"{self.articles:,} articles: fill {self.fill_seconds:.1f} s (inserts {self.insert_seconds:.1f} s), "
            f"search index {self.index_seconds:.1f} s ({self.index_docs:,} docs); "
            f"{self.articles_per_second:,.0f} articles/s; disk {self.disk_bytes / 1e6:,.0f} MB "
            f"({self.disk_bytes / max(1, self.articles) / 1e3:.1f} KB per article)"
        )


def lake_bytes(path: Path) -> int:
    """Bytes on disk of an embedded lake: catalog (with its WAL), data folder, search index."""
    stem = path.name.removesuffix(".sqlite")
    total = 0
    for item in path.parent.iterdir():
        if item.name.startswith(stem):
            total += (
                sum(f.stat().st_size for f in item.rglob("*") if f.is_file())
                if item.is_dir()
                else item.stat().st_size
            )
    return total


def _create(path: Path) -> None:
    """A new lake with the migrations up to KNOWN_SCHEMA (the project's own runner)."""
    import warehouse
    from warehouse.connection import WarehouseError, open_warehouse
    from warehouse.faults import translating

    with tempfile.TemporaryDirectory() as folder:
        for version, _, file in warehouse.list_migrations():
            if version <= KNOWN_SCHEMA:
                shutil.copy(file, folder)
        with open_warehouse(path) as con, contextlib.suppress(WarehouseError), translating(str(path)):
            # The views come last and may need a newer migration's table: then ensure_schema makes them.
            warehouse.migrate(con, Path(folder))


def _chunks(count: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, size):
        yield start, min(size, count - start)


def fill(
    path: Path,
    count: int,
    *,
    seed: int = 0,
    chunk: int | None = None,
    workers: int = 2,
    begin: datetime = YEAR_START,
    days: int = 365,
    index: bool = True,
) -> FillStats:
    """Create a lake at ``path`` (a new ``.sqlite`` catalog) and fill it with ``count`` articles.

    Args:
        path: The catalog to create; it must not exist.
        count: Articles.
        seed: Changes every text and date.
        chunk: Articles per insert (default: an eighth of the lake, 1,000 to 50,000).
        workers: Processes making the articles (0: this one).
        begin: Start of the year the dates are spread over.
        days: Length of that span.
        index: Build the search index afterwards.

    Returns:
        Times and disk use.
    """
    from warehouse.connection import ensure_schema, execute_with, lake_of, open_warehouse, transaction
    from warehouse.locks import warehouse_lock
    from warehouse.search import catch_up_search_index

    if path.exists():
        raise FileExistsError(f"{path} exists: the generator only makes new lakes")
    path.parent.mkdir(parents=True, exist_ok=True)
    size = chunk or max(1000, min(50_000, count // 8))
    parts = list(_chunks(count, size))
    step = timedelta(days=days) / max(1, len(parts))
    # Chunk k holds the articles of the k-th slice of the year: rows land in the order an ingest stores them.
    jobs = [(seed, start, n, begin + k * step, begin + (k + 1) * step) for k, (start, n) in enumerate(parts)]
    _create(path)
    lake = lake_of(path)
    started = time.perf_counter()
    inserting = 0.0
    with warehouse_lock(path, 60), open_warehouse(path) as con:
        for tables in _made(jobs, workers):
            insert_started = time.perf_counter()
            with transaction(con):
                for table, rows in tables.items():
                    execute_with(con, "generated", rows, _INSERT.format(table=table))
            inserting += time.perf_counter() - insert_started
    ensure_schema(path)  # the migrations newer than the generator, on the filled lake; the views
    filled = time.perf_counter() - started
    docs, indexing = 0, 0.0
    if index:
        index_started = time.perf_counter()
        with open_warehouse(path) as con:
            docs = catch_up_search_index(
                con, lake.search_dir
            )  # no mark yet: a full build, as a first run does
        indexing = time.perf_counter() - index_started
    return FillStats(count, filled, inserting, indexing, docs, lake_bytes(path))


def _made(
    jobs: Sequence[tuple[int, int, int, datetime, datetime]], workers: int
) -> Iterator[dict[str, pa.Table]]:
    """The chunks' tables in order, made ``workers`` at a time (a bounded queue: chunks are big)."""
    if workers <= 0:
        for job in jobs:
            yield chunk_tables(*job)
        return
    # spawn: the parent holds a DuckDB instance with its threads, which a fork would copy mid-flight.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: list[concurrent.futures.Future[dict[str, pa.Table]]] = []
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < workers + 1:
                pending.append(pool.submit(chunk_tables, *queue.pop(0)))
            yield pending.pop(0).result()


def main(argv: Sequence[str] | None = None) -> None:
    """Fill one lake and print what it took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="catalog to create (default: a temporary folder, removed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int)
    parser.add_argument("--no-index", action="store_true")
    args = parser.parse_args(argv)
    folder = None if args.out else Path(tempfile.mkdtemp(prefix="wirehouse-lakegen-"))
    path = args.out or (folder / "news.sqlite")  # type: ignore[operator]
    try:
        stats = fill(
            path,
            args.articles,
            seed=args.seed,
            chunk=args.chunk,
            workers=args.workers,
            index=not args.no_index,
        )
        print(stats.line())
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
