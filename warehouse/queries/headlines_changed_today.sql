-- Headlines rewritten today: the article, its headline before and after, and when it changed.
SELECT
    r.url,
    p.title AS before,
    r.title AS after,
    r.fetched_at AS changed_at
FROM revisions r
JOIN revisions p ON p.url = r.url AND p.revision = r.revision - 1
WHERE r.changed_title AND r.fetched_at >= current_date
ORDER BY r.fetched_at DESC;
