-- 004: LSH band keys of article fingerprints, so the loader finds wire-copy candidates by key, not by scan.
-- No index: rows arrive in ingestion order, so DuckDB's per-row-group min/max on seen_at skips old rows.
CREATE TABLE story_keys (
    band_key BIGINT NOT NULL,       -- tasks.wirecopy.band_keys(fingerprint), 64 per article
    url      VARCHAR NOT NULL,      -- article_store.url
    seen_at  TIMESTAMPTZ NOT NULL   -- coalesce(published_at, fetched_at)
);
