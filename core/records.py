"""Records that cross task boundaries: small frozen dataclasses, never dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FeedSource:
    """One subscribed feed, as listed in an OPML or TOML feed list."""

    url: str
    title: str | None = None
    html_url: str | None = None
    category: str | None = None
    etag: str | None = None  # validators from the last successful fetch, for conditional GET
    last_modified: str | None = None
    kind: str | None = None  # rss, atom, rdf, json, sitemap, news-sitemap (None: not fetched yet)
    # Sitemaps only: entries dated well before this were all taken by an earlier run.
    cursor_at: datetime | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: where the article is and what the feed itself says about it."""

    feed_url: str
    url: str  # canonical: tracking parameters and fragment removed
    link: str  # as the feed gave it
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    language: str | None = None  # what the feed declares for itself


@dataclass(frozen=True)
class FeedFetch:
    """The record of one feed fetch, success or failure."""

    feed_url: str
    started_at: datetime
    finished_at: datetime
    http_status: int | None = None
    final_url: str | None = None
    entries_seen: int = 0
    new_entries: int = 0
    error: str | None = None  # None on success
    error_reason: str | None = None  # short code, e.g. "timeout", "http_404", "not_a_feed"
    etag: str | None = None  # validators the server sent (saved even on 304)
    last_modified: str | None = None
    retry_after_s: float | None = None  # 429/503 Retry-After, in seconds
    moved_to: str | None = None  # new URL after permanent (301/308) redirects
    kind: str | None = None  # what the document turned out to be (None: no body, e.g. 304)
    # Entries (or sitemaps of an index) were left for a later run: the cursor must not move past them.
    backlog: bool = False


@dataclass(frozen=True)
class FeedHealth:
    """A feed's state after a fetch: what the next run should do with it."""

    feed_url: str
    ok: bool
    last_status: int | None
    consecutive_failures: int
    next_fetch_at: datetime | None  # None: due on the next run
    etag: str | None
    last_modified: str | None
    retire_reason: str | None = None  # set: the feed is deactivated (410 Gone, moved)
    moved_to: str | None = None
    kind: str | None = None
    cursor_at: datetime | None = None  # set: move the source's cursor here


@dataclass(frozen=True)
class ParsedFeed:
    """What a feed document says: its title and entries, and why it was odd if it was."""

    title: str | None
    entries: tuple[FeedEntry, ...]
    language: str | None = None
    warning: str | None = None  # feedparser's bozo exception text when it still parsed
    kind: str | None = None  # rss, atom, rdf or json


@dataclass(frozen=True)
class FeedResult:
    """A fetched feed: the fetch record and the entries not yet in the warehouse."""

    fetch: FeedFetch
    entries: tuple[FeedEntry, ...] = ()


@dataclass(frozen=True)
class Page:
    """A fetched article page (or the reason there is none)."""

    entry: FeedEntry
    fetched_at: datetime
    final_url: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    body: bytes | None = None
    error: str | None = None
    error_reason: str | None = None
    retryable: bool = False  # the failure may pass (timeout, refused connection, 5xx, 429)
    etag: str | None = None  # validators the server sent, for a later re-check's conditional GET
    last_modified: str | None = None


@dataclass(frozen=True)
class Recheck:
    """A stored article due to be fetched again, with the version it is compared against."""

    url: str
    feed_url: str | None
    link: str
    guid: str | None
    first_seen_at: datetime
    checks: int  # re-checks made so far
    due_at: datetime
    etag: str | None
    last_modified: str | None
    title: str | None  # the latest stored version
    text: str | None
    fingerprint: bytes | None
    revisions: int  # revisions recorded so far (0: the first version is the only one)


@dataclass(frozen=True)
class Change:
    """How a later version differs from the one before it (a revision), or None where it does not."""

    changed_title: bool
    words_added: int
    words_removed: int
    summary: str
    is_correction: bool


@dataclass(frozen=True)
class Revision:
    """One stored version of an article: revision 0 the first, then each later one that changed."""

    url: str
    revision: int
    fetched_at: datetime
    title: str | None
    text: str | None
    change: Change


@dataclass(frozen=True)
class Removal:
    """A re-check that found the article gone: 404/410, or a redirect to a section page."""

    url: str
    removed_at: datetime
    http_status: int | None
    final_url: str | None


@dataclass(frozen=True)
class Quote:
    """A direct quote inside an article's text."""

    ordinal: int
    text: str
    start: int  # character offsets in Article.text
    end: int


# Every extraction_status an article is stored with: ``ok``, or why the feed entry stands in for it.
EXTRACTION_STATUSES = (
    "ok",
    "fetch_failed",
    "http_error",
    "not_html",
    "login_page",
    "consent_wall",
    "paywall",
    "listing",
    "error_page",
    "no_text",
    "error",
)


@dataclass(frozen=True)
class Article:
    """One article as stored: extracted text and metadata plus enrichment."""

    url: str
    feed_url: str
    link: str
    guid: str | None
    title: str | None
    text: str | None
    fetched_at: datetime
    extraction_status: str
    extraction_error: str | None = None
    http_status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    description: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str | None = None
    declared_language: str | None = None
    language: str | None = None
    language_confidence: float | None = None
    word_count: int = 0
    reading_time_min: float = 0.0
    content_hash: str | None = None
    agencies: tuple[str, ...] = ()  # normalised agency codes: dpa, afp, reuters, ap, ...
    dateline_place: str | None = None
    title_language: str | None = None
    keywords: tuple[str, ...] = ()
    paragraph_count: int = 0
    paywalled: bool | None = None  # True where the page says it is not free (JSON-LD isAccessibleForFree)
    quotes: tuple[Quote, ...] = ()
    fingerprint: bytes | None = field(default=None, repr=False)  # near-duplicate signature of the body
    story_id: str | None = None
    retryable: bool = False  # the page fetch failed for a passing reason: try again on a later run
    charset: str | None = None  # from the HTTP header: kept with the raw HTML for re-processing
    raw_html: bytes | None = field(default=None, repr=False)
    # The raw HTML compressed where it was extracted (a worker process), so that the flow's own process
    # neither compresses it nor receives the uncompressed copy back; raw_html is then None. Named when
    # the format was zlib; now core.rawhtml's zstd (the staged batch format keeps the name).
    raw_html_zlib: bytes | None = field(default=None, repr=False)
    # Backfilled from an archive (no feed: feed_url is empty, stored as NULL): the file and the record.
    source_file: str | None = None
    source_record: str | None = None
    source_offset: int | None = None
    # The title the page gives search engines (og:title, JSON-LD headline, <title>) where it differs from
    # ``title``, the headline readers see.
    seo_title: str | None = None
    # What the page is (tasks.pagetype.PAGE_TYPES: article, liveblog, gallery, video, listing, wall, error);
    # None where no page was read.
    page_type: str | None = None
    # How much to trust the body, 0-1 (tasks.confidence): 0 where no body was extracted.
    extraction_confidence: float | None = None


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest run did, for the CLI summary and the Prefect artifact."""

    run_id: str | None
    warehouse: str
    feeds: int
    feeds_failed: int
    entries_seen: int
    new_entries: int
    articles_by_status: dict[str, int]
    failures_by_reason: dict[str, int]
    seconds: float
    phase_seconds: dict[str, float] = field(default_factory=dict)
    batches: int = 0
    # Re-checks of stored articles: made, unchanged (304 or noise), revisions, corrections, removed.
    rechecks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchiveLoad:
    """What a backfill did with one archive file."""

    source: str
    records: int = 0  # response records read
    stored: int = 0  # articles written
    skipped: int = 0  # stored before, repeated in the file, or left out by the filters
    failed: int = 0  # records that gave no page (problems)
    articles_by_status: dict[str, int] = field(default_factory=dict)
    problems_by_kind: dict[str, int] = field(default_factory=dict)
    already_loaded: bool = False  # loaded by an earlier backfill with the same filters: not read again
    error: str | None = None  # the file could not be opened or read at all


@dataclass(frozen=True)
class BackfillSummary:
    """What one backfill run did, for the CLI summary."""

    run_id: str | None
    warehouse: str
    files: tuple[ArchiveLoad, ...]
    seconds: float
