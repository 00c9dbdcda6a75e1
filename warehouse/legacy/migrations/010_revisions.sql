-- 010 (the single-file warehouse, as the lake's 010): article revisions; the same tables, so that the
-- views fit both and an old file converts table for table.
CREATE TABLE article_rechecks (
    url            VARCHAR NOT NULL,     -- article_store.url
    feed_url       VARCHAR,              -- its feed (re-checks are sharded by it, like feeds)
    link           VARCHAR NOT NULL,     -- fetched again
    guid           VARCHAR,
    first_seen_at  TIMESTAMPTZ NOT NULL, -- the ages count from here
    checks         INTEGER NOT NULL,     -- re-checks made so far
    due_at         TIMESTAMPTZ NOT NULL,
    etag           VARCHAR,              -- validators of the last answer, for conditional GET
    last_modified  VARCHAR,
    title          VARCHAR,              -- the latest version
    text           VARCHAR,
    fingerprint    BLOB,
    revisions      INTEGER NOT NULL      -- revisions recorded so far
);

-- Every version after the first that changed, and the first itself as revision 0 once a later one
-- exists (the articles view shows the latest; the first stays here).
CREATE TABLE article_revisions (
    url            VARCHAR NOT NULL,
    revision       INTEGER NOT NULL,     -- 0: the first version; 1, 2, ...: later ones
    fetched_at     TIMESTAMPTZ NOT NULL,
    title          VARCHAR,
    text           VARCHAR,
    changed_title  BOOLEAN NOT NULL,
    words_added    INTEGER NOT NULL,
    words_removed  INTEGER NOT NULL,
    summary        VARCHAR NOT NULL,
    is_correction  BOOLEAN NOT NULL,
    run_id         VARCHAR
);

-- Articles a re-check found gone (404/410, or redirected to a section page); nothing else is deleted.
CREATE TABLE article_removals (
    url          VARCHAR NOT NULL,
    removed_at   TIMESTAMPTZ NOT NULL,
    http_status  INTEGER,
    final_url    VARCHAR,
    run_id       VARCHAR
);
