-- Top stories of the day: wire-copy groups with the most outlets among articles published today (UTC).
SELECT story_id, title, outlets_count, size, outlets, first_seen, last_seen
FROM stories
WHERE last_seen >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
ORDER BY outlets_count DESC, size DESC, first_seen
LIMIT 20;
