-- LshCluster store (SQLite), migration 0003: what lets one shard load its own rows (ADR 0006).
--
-- Contract (relied upon by SqliteDedupStore and the shard grains; change it only with a new migration):
-- * bucket_log: per shard, rows appended by the commits whose vectors join that shard's buckets, each holding the
--   commit's entries for the shard packed (BucketLog: 32 bytes per entry, little-endian); seq (the rowid) orders rows
--   by commit. Written in the same transaction as the vectors. The store fills it from the existing vectors when it
--   applies this migration.
-- * vectors_home_shard, deleted_vectors_home_shard: a shard's home rows without a scan of the store.

CREATE TABLE bucket_log (
    seq     INTEGER PRIMARY KEY,
    shard   INTEGER NOT NULL CHECK (shard >= 0),
    entries BLOB    NOT NULL
) STRICT;

CREATE INDEX bucket_log_shard ON bucket_log (shard, seq);
CREATE INDEX vectors_home_shard ON vectors (home_shard, vector_id);
CREATE INDEX deleted_vectors_home_shard ON deleted_vectors (home_shard);
