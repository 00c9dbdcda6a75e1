-- Languages per feed: how many articles of each language every feed brought.
SELECT feed_url, language, count(*) AS articles
FROM articles
GROUP BY ALL
ORDER BY feed_url, articles DESC;
