-- 002: news enrichment — dateline and agencies, keywords, reading stats, quotes, wire-copy stories.

ALTER TABLE article_store ADD COLUMN agencies VARCHAR[] DEFAULT [];
ALTER TABLE article_store ADD COLUMN dateline_place VARCHAR;
ALTER TABLE article_store ADD COLUMN title_language VARCHAR;
ALTER TABLE article_store ADD COLUMN keywords VARCHAR[] DEFAULT [];
ALTER TABLE article_store ADD COLUMN paragraph_count INTEGER DEFAULT 0;
ALTER TABLE article_store ADD COLUMN paywalled BOOLEAN;
ALTER TABLE article_store ADD COLUMN fingerprint BLOB;        -- near-duplicate signature of the body
ALTER TABLE article_store ADD COLUMN story_id VARCHAR;         -- url of the earliest article of its wire-copy group

CREATE TABLE quotes (
    article_url  VARCHAR NOT NULL,
    ordinal      INTEGER NOT NULL,      -- 1, 2, ... in order of appearance
    quote        VARCHAR NOT NULL,      -- the quoted words, without the marks
    start_offset INTEGER NOT NULL,      -- character offsets of the quote in articles.text
    end_offset   INTEGER NOT NULL,
    PRIMARY KEY (article_url, ordinal)
);
