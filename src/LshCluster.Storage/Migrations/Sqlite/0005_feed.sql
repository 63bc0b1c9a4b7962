-- LshCluster embedded store (SQLite), migration 0005: the change feed (ADR 0011).
--
-- Contract (relied upon by SqliteDedupStore; change it only with a new migration):
-- * feed: one row per commit that has events: its position (1, 2, 3, … in commit order, without gaps), when it was
--   committed (Unix milliseconds), and its events packed (FeedCodec). Retention deletes the oldest rows.
-- * feed_head: the last position given (SQLite has one writer: commit order is write order).

CREATE TABLE feed (
    position INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    events BLOB NOT NULL
);

CREATE TABLE feed_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);

INSERT INTO feed_head (id, position) VALUES (1, 0);
