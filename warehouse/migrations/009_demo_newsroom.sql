-- 009: where the bundled sample newsroom is served. Its URLs name a fixed host, never a port
-- (http://newsroom.localhost/...), so a demo on another port finds its articles already stored; the
-- fetcher sends that host to 127.0.0.1 on the port the last `wirehouse demo` served it on, kept here
-- (one row; none: the default port), so a plain ingest after the demo fetches the same feeds.

CREATE TABLE demo_newsroom (
    port           INTEGER NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
