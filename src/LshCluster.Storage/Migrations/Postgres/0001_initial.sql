-- LshCluster store (PostgreSQL), migration 0001: the initial schema.
--
-- Contract (what LshCluster.Storage and the engine rely on; change it only with a new migration and an ADR):
-- * Run by PostgresDedupStore.MigrateAsync inside one transaction that first takes pg_advisory_xact_lock (so that
--   processes starting together apply it once) and records version 1 in schema_migrations(version, applied_at),
--   which the runner itself creates. Objects are created in the first schema of the connection's search_path.
-- * cluster_config: at most one row (id = 1): the scheme exactly as LshScheme.ToBytes wrote it, its fingerprint and
--   the creation time.
-- * vectors: one row per stored vector, written once by its home shard (binary COPY), keyed by vector_id (ids are
--   time-ordered, so the key index grows at its right edge); external_id is unique. vector holds d float32 and
--   bucket_keys L uint64, both little-endian; unsigned 64-bit values (keys, sketch) are stored as two's complement.
--   The vector bytes stay inline in the heap row (STORAGE MAIN, toast_tuple_target raised to its maximum): TOASTing
--   them doubled the server's CPU per vector. deleted rows are kept but never loaded.
-- * edges: verified pairs with a < b, keyed by (a, b); writing an existing edge changes nothing (a replay may write
--   one twice). No foreign keys: an edge may name a vector that another process has not committed yet.
-- * shard_leases: one row per shard 0 … S-1, created with the cluster at epoch 0; an epoch only ever grows. A batch
--   locks the rows of its shards FOR SHARE and is written only while the epochs it carries are still current, so a
--   claim (an UPDATE of the epoch) waits for the batches in flight and fences every later one.
-- * Times are timestamptz, taken from the database clock where the database decides them (created_at, applied_at).

CREATE TABLE cluster_config (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    scheme      bytea       NOT NULL,
    fingerprint bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vectors (
    vector_id    bigint      PRIMARY KEY,
    external_id  text        NOT NULL UNIQUE,
    home_shard   integer     NOT NULL CHECK (home_shard >= 0),
    vector       bytea       NOT NULL,
    bucket_keys  bytea       NOT NULL,
    sketch_low   bigint      NOT NULL,
    sketch_high  bigint      NOT NULL,
    is_duplicate boolean     NOT NULL,
    canonical    bigint      NOT NULL,
    best_match   bigint      NOT NULL,
    best_cosine  real        NOT NULL,
    inserted_at  timestamptz NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false
) WITH (toast_tuple_target = 8160);

ALTER TABLE vectors ALTER COLUMN vector SET STORAGE MAIN;
ALTER TABLE vectors ALTER COLUMN bucket_keys SET STORAGE MAIN;

CREATE TABLE edges (
    a      bigint NOT NULL,
    b      bigint NOT NULL,
    cosine real   NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);

CREATE TABLE shard_leases (
    shard         integer     PRIMARY KEY CHECK (shard >= 0),
    owner         text,
    epoch         bigint      NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    lease_expires timestamptz
);
