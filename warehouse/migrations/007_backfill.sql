-- 007: archive backfill — articles whose source is a record of a WARC/ARC file rather than a feed, the
-- archives loaded (a file fully loaded is skipped by the next backfill), and the records that gave no
-- page (counted in the failures view). The same statements as legacy/migrations/007_backfill.sql.

ALTER TABLE article_store ALTER COLUMN feed_url DROP NOT NULL;   -- NULL: no feed (an archive's page)
ALTER TABLE article_store ADD COLUMN source_file VARCHAR;        -- the archive it was read from
ALTER TABLE article_store ADD COLUMN source_record VARCHAR;      -- its WARC-Record-ID there
ALTER TABLE article_store ADD COLUMN source_offset BIGINT;       -- byte offset of the record (gzip member)

CREATE TABLE archive_files (
    source_file  VARCHAR NOT NULL,     -- as given: path, http(s) or s3:// URL
    filters      VARCHAR NOT NULL,     -- the backfill's filters ('' for none): a filtered load covers only them
    records      BIGINT NOT NULL,      -- response records read
    stored       BIGINT NOT NULL,      -- articles written by this load
    skipped      BIGINT NOT NULL,      -- stored before, repeated in the file, or left out by the filters
    failed       BIGINT NOT NULL,      -- problems (archive_problems rows)
    started_at   TIMESTAMPTZ NOT NULL,
    loaded_at    TIMESTAMPTZ NOT NULL, -- every record stored: a rerun skips the file
    run_id       VARCHAR
);

CREATE TABLE archive_problems (
    source_file    VARCHAR NOT NULL,
    source_offset  BIGINT NOT NULL,
    source_record  VARCHAR,
    url            VARCHAR,
    problem        VARCHAR NOT NULL,   -- not_html, truncated, broken_gzip, http_error, unreadable, too_large
    message        VARCHAR NOT NULL,
    http_status    INTEGER,
    occurred_at    TIMESTAMPTZ NOT NULL,
    run_id         VARCHAR
);
