-- 006: sources beside feeds — each source's kind, and the cursor of sitemap sources (the lake and,
-- in legacy/, the single-file warehouse alike: ALTER TABLE ... ADD COLUMN works on both).

ALTER TABLE feeds ADD COLUMN kind VARCHAR;              -- rss, atom, rdf, json, sitemap, news-sitemap
ALTER TABLE feeds ADD COLUMN cursor_at TIMESTAMPTZ;     -- sitemaps: entries dated before it were all seen
