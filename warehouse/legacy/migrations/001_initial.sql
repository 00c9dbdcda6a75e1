-- 001: feeds, feed fetch log, articles and their raw HTML.
-- Tables are private to wirehouse; users query the views in views.sql.

CREATE TABLE feeds (
    feed_url       VARCHAR PRIMARY KEY,
    title          VARCHAR,
    html_url       VARCHAR,
    category       VARCHAR,           -- OPML folder path, "World/Europe"
    imported_from  VARCHAR,           -- the feed list it came from
    added_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    active         BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE SEQUENCE feed_fetch_id_seq START 1;

CREATE TABLE feed_fetch_log (
    fetch_id       BIGINT PRIMARY KEY DEFAULT nextval('feed_fetch_id_seq'),
    run_id         VARCHAR,
    feed_url       VARCHAR NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    http_status    INTEGER,           -- NULL where no response came
    final_url      VARCHAR,
    entries_seen   INTEGER NOT NULL,
    new_entries    INTEGER NOT NULL,
    error          VARCHAR,           -- NULL on success
    error_reason   VARCHAR
);

CREATE TABLE article_store (
    url                  VARCHAR PRIMARY KEY,   -- canonical URL
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
    ingested_at          TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE INDEX article_store_feed_guid ON article_store (feed_url, guid);

CREATE TABLE raw_pages (
    url          VARCHAR PRIMARY KEY,   -- canonical URL, as in article_store
    fetched_at   TIMESTAMPTZ NOT NULL,
    compression  VARCHAR NOT NULL,      -- 'zlib'
    html         BLOB NOT NULL
);
