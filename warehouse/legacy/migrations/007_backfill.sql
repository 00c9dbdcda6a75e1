-- 007: archive backfill, in the single-file warehouse: the same statements as the lake's
-- migrations/007_backfill.sql, so that the views fit both and an old file converts column for column.

-- DuckDB refuses to alter a table that has an index: dropped, and created again after the change.
DROP INDEX article_store_feed_guid;

ALTER TABLE article_store ALTER COLUMN feed_url DROP NOT NULL;   -- NULL: no feed (an archive's page)
ALTER TABLE article_store ADD COLUMN source_file VARCHAR;        -- the archive it was read from
ALTER TABLE article_store ADD COLUMN source_record VARCHAR;      -- its WARC-Record-ID there
ALTER TABLE article_store ADD COLUMN source_offset BIGINT;       -- byte offset of the record (gzip member)
CREATE INDEX article_store_feed_guid ON article_store (feed_url, guid);

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
