-- LshCluster embedded store (SQLite), migration 0001: the initial schema.
--
-- Contract (what LshCluster.Storage and the engine rely on; change it only with a new migration and an ADR):
-- * Run by SqliteDedupStore.MigrateAsync inside one BEGIN IMMEDIATE transaction that also records version 1 in
--   schema_migrations(version, applied_at), which the runner itself creates.
-- * Connections run in WAL mode with synchronous = FULL, so a commit that returned is on disk.
-- * cluster_config: at most one row (id = 1): the scheme exactly as LshScheme.ToBytes wrote it, its fingerprint and
--   the creation time.
-- * vectors: one row per stored vector, written once by its home shard. vector_id is the rowid, so inserting in id
--   order (ids are time-ordered) appends to the table. external_id is unique. vector holds d float32 and bucket_keys
--   L uint64, both little-endian; unsigned 64-bit values (keys, sketch) are stored as two's complement. best_cosine
--   NULL stands for NaN, which SQLite cannot store. deleted rows are kept but never loaded.
-- * edges: verified pairs with a < b, keyed by (a, b); writing an existing edge changes nothing (a replay may write
--   one twice). No foreign keys: an edge may name a vector that another process has not committed yet.
-- * shard_leases: one row per shard 0 … S-1, created with the cluster at epoch 0; an epoch only ever grows, and a
--   batch is written only while the epochs it carries are still current.
-- * Times are unix milliseconds, UTC. Tables are STRICT, so a value of the wrong type fails instead of being kept.

CREATE TABLE cluster_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    scheme      BLOB    NOT NULL,
    fingerprint INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE vectors (
    vector_id    INTEGER PRIMARY KEY,
    external_id  TEXT    NOT NULL UNIQUE,
    home_shard   INTEGER NOT NULL CHECK (home_shard >= 0),
    vector       BLOB    NOT NULL,
    bucket_keys  BLOB    NOT NULL,
    sketch_low   INTEGER NOT NULL,
    sketch_high  INTEGER NOT NULL,
    is_duplicate INTEGER NOT NULL CHECK (is_duplicate IN (0, 1)),
    canonical    INTEGER NOT NULL,
    best_match   INTEGER NOT NULL,
    best_cosine  REAL,
    inserted_at  INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT;

CREATE TABLE edges (
    a      INTEGER NOT NULL,
    b      INTEGER NOT NULL,
    cosine REAL    NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) STRICT, WITHOUT ROWID;

CREATE TABLE shard_leases (
    shard         INTEGER PRIMARY KEY CHECK (shard >= 0),
    owner         TEXT,
    epoch         INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    lease_expires INTEGER
) STRICT;
