-- 011 (the single-file warehouse, as the lake's 011): what a page says it is, beside what was extracted from it: the title it gives search engines
-- where that differs from the visible headline, what kind of page it is, and how much to trust the extracted body.

ALTER TABLE article_store ADD COLUMN seo_title VARCHAR;   -- og:title / JSON-LD headline / <title>, where not the headline
ALTER TABLE article_store ADD COLUMN page_type VARCHAR;   -- article, liveblog, gallery, video, listing, wall, error
ALTER TABLE article_store ADD COLUMN extraction_confidence DOUBLE;  -- 0-1: how much to trust text
