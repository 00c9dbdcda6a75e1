-- The warehouse as a DuckLake: every table of the single-file warehouse (migrations 001-005 of
-- warehouse/legacy/), in its final shape. DuckLake has no primary keys, unique constraints, indexes,
-- sequences or list defaults: one writer per lake at a time (the run lock) keeps URLs unique, and the
-- code that writes sets every list column.

CREATE TABLE feeds (
    feed_url              VARCHAR NOT NULL,
    title                 VARCHAR,
    html_url              VARCHAR,
    category              VARCHAR,           -- OPML folder path, "World/Europe"
    imported_from         VARCHAR,           -- the feed list it came from
    added_at              TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    active                BOOLEAN NOT NULL DEFAULT TRUE,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    last_status           INTEGER,
    last_success_at       TIMESTAMPTZ,
    consecutive_failures  INTEGER DEFAULT 0,
    next_fetch_at         TIMESTAMPTZ,       -- NULL: due now
    retired_reason        VARCHAR,           -- why active became false (410, moved)
    moved_to              VARCHAR            -- new URL after a permanent redirect
);

CREATE TABLE feed_fetch_log (
    run_id         VARCHAR,
    feed_url       VARCHAR NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    http_status    INTEGER,           -- NULL where no response came
    final_url      VARCHAR,
    entries_seen   INTEGER NOT NULL,
    new_entries    INTEGER NOT NULL,
    error          VARCHAR,           -- NULL on success
    error_reason   VARCHAR,
    retry_after_s  DOUBLE,            -- what a 429/503 asked for
    moved_to       VARCHAR
);

CREATE TABLE article_store (
    url                  VARCHAR NOT NULL,      -- canonical URL, one row each
    feed_url             VARCHAR NOT NULL,
    link                 VARCHAR NOT NULL,      -- as the feed gave it
    guid                 VARCHAR,
    title                VARCHAR,
    text                 VARCHAR,
    description          VARCHAR,
    authors              VARCHAR[] NOT NULL,
    published_at         TIMESTAMPTZ,
    modified_at          TIMESTAMPTZ,
    site_name            VARCHAR,
    categories           VARCHAR[] NOT NULL,
    tags                 VARCHAR[] NOT NULL,
    image                VARCHAR,
    declared_language    VARCHAR,
    language             VARCHAR,
    language_confidence  DOUBLE,
    word_count           INTEGER NOT NULL,
    reading_time_min     DOUBLE NOT NULL,
    content_hash         VARCHAR,
    fetched_at           TIMESTAMPTZ NOT NULL,
    http_status          INTEGER,
    final_url            VARCHAR,
    content_type         VARCHAR,
    extraction_status    VARCHAR NOT NULL,
    extraction_error     VARCHAR,
    retryable            BOOLEAN NOT NULL DEFAULT FALSE,  -- fetch failed for a passing reason
    fetch_attempts       INTEGER NOT NULL DEFAULT 1,
    run_id               VARCHAR,
    ingested_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    agencies             VARCHAR[],
    dateline_place       VARCHAR,
    title_language       VARCHAR,
    keywords             VARCHAR[],
    paragraph_count      INTEGER DEFAULT 0,
    paywalled            BOOLEAN,
    fingerprint          BLOB,          -- near-duplicate signature of the body
    story_id             VARCHAR        -- url of the earliest article of its wire-copy group
);

CREATE TABLE raw_pages (
    url          VARCHAR NOT NULL,   -- canonical URL, as in article_store
    fetched_at   TIMESTAMPTZ NOT NULL,
    compression  VARCHAR NOT NULL,   -- 'zlib'
    html         BLOB NOT NULL,
    charset      VARCHAR
);

CREATE TABLE quotes (
    article_url  VARCHAR NOT NULL,
    ordinal      INTEGER NOT NULL,      -- 1, 2, ... in order of appearance
    quote        VARCHAR NOT NULL,      -- the quoted words, without the marks
    start_offset INTEGER NOT NULL,      -- character offsets of the quote in articles.text
    end_offset   INTEGER NOT NULL
);

CREATE TABLE story_keys (
    band_key BIGINT NOT NULL,       -- tasks.wirecopy.band_keys(fingerprint), 64 per article
    url      VARCHAR NOT NULL,      -- article_store.url
    seen_at  TIMESTAMPTZ NOT NULL   -- coalesce(published_at, fetched_at)
);
