-- LshCluster cluster store (PostgreSQL), migration 0010: the change feed (ADR 0011).
--
-- Contract (relied upon by PostgresDedupStore; change it only with a new migration):
-- * feed: one row per commit that has events: its position (1, 2, 3, … in commit order, without gaps), when it was
--   committed, and its events packed (FeedCodec). Retention deletes the oldest rows.
-- * feed_head: the last position given. A commit with events increments it as its last step, and its row lock is held
--   to the commit, so positions are handed out in commit order: a reader that has read position p never sees a row
--   below p appear later.

CREATE TABLE feed (
    position bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    events bytea NOT NULL
);

CREATE TABLE feed_head (
    id int PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL
);

INSERT INTO feed_head (id, position) VALUES (1, 0);
