-- What failed in the last 7 days: feed fetches with an error and articles kept from the feed entry only.
SELECT 'feed' AS kind, feed_url AS source, error_reason AS reason, count(*) AS n, max(started_at) AS last_seen
FROM feed_fetches
WHERE error IS NOT NULL AND started_at >= now() - INTERVAL 7 DAY
GROUP BY ALL
UNION ALL
SELECT 'article', feed_url, extraction_status, count(*), max(fetched_at)
FROM articles
WHERE extraction_status <> 'ok' AND fetched_at >= now() - INTERVAL 7 DAY
GROUP BY ALL
ORDER BY n DESC;
