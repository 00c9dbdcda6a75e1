-- Agency share by outlet: how much of each site's extracted copy credits a news agency, and which.
WITH per_article AS (
    SELECT coalesce(site_name, regexp_extract(url, '^https?://([^/]+)', 1)) AS outlet, agencies
    FROM articles
    WHERE extraction_status = 'ok'
)
SELECT
    outlet,
    count(*) AS articles,
    round(100.0 * count(*) FILTER (WHERE len(agencies) > 0) / count(*), 1) AS agency_pct,
    list_sort(list_distinct(flatten(list(agencies)))) AS agencies
FROM per_article
GROUP BY outlet
ORDER BY articles DESC, outlet;
