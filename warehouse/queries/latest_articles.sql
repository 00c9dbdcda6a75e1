-- The 20 most recently published articles with their source and length.
SELECT published_at, language, word_count, title, url
FROM articles
WHERE extraction_status = 'ok'
ORDER BY published_at DESC NULLS LAST
LIMIT 20;
