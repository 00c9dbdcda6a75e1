-- Corrections and update notes added in the last 7 days, newest first.
SELECT r.url, a.site_name, r.title, r.revision, r.fetched_at AS corrected_at, r.summary
FROM revisions r
JOIN articles a USING (url)
WHERE r.is_correction AND r.fetched_at >= now() - INTERVAL 7 DAY
ORDER BY r.fetched_at DESC;
