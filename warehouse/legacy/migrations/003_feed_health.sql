-- 003: feed health — conditional GET validators, failures, back-off, moves and retirement.

ALTER TABLE feeds ADD COLUMN etag VARCHAR;
ALTER TABLE feeds ADD COLUMN last_modified VARCHAR;
ALTER TABLE feeds ADD COLUMN last_status INTEGER;
ALTER TABLE feeds ADD COLUMN last_success_at TIMESTAMPTZ;
ALTER TABLE feeds ADD COLUMN consecutive_failures INTEGER DEFAULT 0;
ALTER TABLE feeds ADD COLUMN next_fetch_at TIMESTAMPTZ;       -- NULL: due now
ALTER TABLE feeds ADD COLUMN retired_reason VARCHAR;          -- why active became false (410, moved)
ALTER TABLE feeds ADD COLUMN moved_to VARCHAR;                -- new URL after a permanent redirect

ALTER TABLE feed_fetch_log ADD COLUMN retry_after_s DOUBLE;   -- what a 429/503 asked for
ALTER TABLE feed_fetch_log ADD COLUMN moved_to VARCHAR;
