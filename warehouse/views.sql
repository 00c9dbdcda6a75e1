-- The public contract: users query these views; the tables behind them may change between versions.
-- Re-created after every migration run, so they always match the code.

CREATE OR REPLACE VIEW articles AS
SELECT
    url,
    feed_url,
    title,
    text,
    authors,
    published_at,
    language,
    language_confidence,
    word_count,
    fetched_at,
    extraction_status,
    extraction_error,
    description,
    site_name,
    categories,
    tags,
    image,
    modified_at,
    declared_language,
    reading_time_min,
    content_hash,
    http_status,
    final_url,
    link,
    guid,
    agencies,
    dateline_place,
    title_language,
    keywords,
    paragraph_count,
    paywalled,
    story_id,
    run_id,
    ingested_at,
    source_file,
    source_record,
    source_offset,
    seo_title,
    page_type,
    extraction_confidence,
    coalesce(r.revision_count, 0) AS revision_count,
    r.last_changed_at,
    g.removed_at
FROM article_store
-- Revisions and removals are few: grouped first, then joined by URL (a hash join, no per-row lookup).
LEFT JOIN (
    SELECT url AS revised_url, max(revision) AS revision_count, max(fetched_at) AS last_changed_at
    FROM article_revisions
    GROUP BY 1
) r ON r.revised_url = article_store.url
LEFT JOIN (
    SELECT url AS removed_url, min(removed_at) AS removed_at FROM article_removals GROUP BY 1
) g ON g.removed_url = article_store.url;

-- Every version of a revised article: revision 0 the first, then each later one that changed.
CREATE OR REPLACE VIEW revisions AS
SELECT
    url,
    revision,
    fetched_at,
    title,
    changed_title,
    words_added,
    words_removed,
    is_correction,
    summary,
    text,
    run_id
FROM article_revisions;

CREATE OR REPLACE VIEW feed_fetches AS
SELECT
    feed_url,
    started_at,
    http_status,
    entries_seen,
    new_entries,
    error,
    error_reason,
    finished_at,
    final_url,
    run_id
FROM feed_fetch_log;

CREATE OR REPLACE VIEW stories AS
SELECT
    coalesce(story_id, url) AS story_id,
    count(*) AS size,
    count(DISTINCT coalesce(site_name, regexp_extract(url, '^https?://([^/]+)', 1))) AS outlets_count,
    list(DISTINCT coalesce(site_name, regexp_extract(url, '^https?://([^/]+)', 1))) AS outlets,
    list(url ORDER BY coalesce(published_at, fetched_at)) AS urls,
    min(coalesce(published_at, fetched_at)) AS first_seen,
    max(coalesce(published_at, fetched_at)) AS last_seen,
    arg_min(title, coalesce(published_at, fetched_at)) AS title
FROM article_store
GROUP BY 1;

-- Every failure, feed or article, one row each: what failed, where, why and when.
CREATE OR REPLACE VIEW failures AS
SELECT
    'feed' AS kind,
    feed_url AS url,
    feed_url,
    'fetch_feed' AS stage,
    coalesce(error_reason, 'error') AS error_class,
    error AS message,
    http_status,
    started_at AS occurred_at,
    run_id
FROM feed_fetch_log
WHERE error IS NOT NULL
UNION ALL
SELECT
    'article',
    url,
    feed_url,
    CASE WHEN extraction_status IN ('fetch_failed', 'http_error') THEN 'fetch_page' ELSE 'extract' END,
    extraction_status,
    extraction_error,
    http_status,
    fetched_at,
    run_id
FROM article_store
WHERE extraction_status <> 'ok'
UNION ALL
-- Records of a backfilled archive that gave no page (not HTML, truncated, broken gzip, ...).
SELECT
    'archive',
    coalesce(url, source_file),
    NULL,
    'read_archive',
    problem,
    message,
    http_status,
    occurred_at,
    run_id
FROM archive_problems;
