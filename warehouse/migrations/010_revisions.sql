-- 010: article revisions. A stored article is fetched again at growing ages after it was first stored
-- (the recheck_after setting); a later version that differs beyond noise is a revision.
--
-- article_rechecks holds only the articles that still have a re-check to come: a row is written when
-- an article is stored, replaced after each re-check and dropped after the last one (or a removal).
-- It stays as small as the articles of the last few days whatever the lake's size, so a run's "what is
-- due?" reads it whole (O(due), never O(lake)); and it is in the lake, so due times survive restarts and
-- every machine of a shared lake sees them. It keeps the latest version's title, text and fingerprint,
-- so comparing a new version never looks up article_store (which has no index).

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
