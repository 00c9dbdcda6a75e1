-- 011: what a page says it is, beside what was extracted from it: the title it gives search engines
-- where that differs from the visible headline, and what kind of page it is.

ALTER TABLE article_store ADD COLUMN seo_title VARCHAR;   -- og:title / JSON-LD headline / <title>, where not the headline
ALTER TABLE article_store ADD COLUMN page_type VARCHAR;   -- article, liveblog, gallery, video, listing, wall, error
