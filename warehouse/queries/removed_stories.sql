-- Stories taken down (a re-check got 404/410 or a redirect to a section page); their text is kept.
SELECT url, site_name, title, published_at, removed_at, revision_count
FROM articles
WHERE removed_at IS NOT NULL
ORDER BY removed_at DESC;
