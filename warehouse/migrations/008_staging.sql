-- 008: staged batches, so that several runs can write one lake with a PostgreSQL catalog at once.
-- A run appends each batch here (appends from many writers never conflict in DuckLake); one merger
-- at a time, under the lake's lock, folds pending batches into the article store by URL and records
-- them in merged_batches in the same transaction. An embedded lake stores its batches directly.

CREATE TABLE staged_batches (
    batch_id      VARCHAR NOT NULL,      -- random, unique per staged batch
    run_id        VARCHAR,               -- the run that staged it
    replace_rows  BOOLEAN NOT NULL,      -- re-processing: overwrite stored articles
    urls          VARCHAR[] NOT NULL,    -- its canonical URLs: a pending batch's pages are not fetched again
    staged_at     TIMESTAMPTZ NOT NULL,
    payload       BLOB NOT NULL          -- the articles as an Arrow IPC stream (zstd), raw HTML and quotes included
);

CREATE TABLE merged_batches (
    batch_id   VARCHAR NOT NULL,
    merged_at  TIMESTAMPTZ NOT NULL,
    articles   INTEGER NOT NULL          -- articles in the batch
);
