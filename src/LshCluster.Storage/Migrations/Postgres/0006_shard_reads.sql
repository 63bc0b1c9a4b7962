-- LshCluster store (PostgreSQL), migration 0006: what lets one shard load its own rows (ADR 0006).
--
-- Contract (relied upon by PostgresDedupStore and the shard grains; change it only with a new migration):
-- * bucket_log: per shard, rows appended by the commits whose vectors join that shard's buckets, each holding the
--   commit's entries for the shard packed (BucketLog: 32 bytes per entry: key, vector id, sketch low, sketch high,
--   little-endian); seq orders a shard's rows by commit. Written in the same transaction as the vectors, so an entry
--   exists exactly when its vector was committed. The store fills it from the existing vectors when it applies this
--   migration (it needs the scheme to know which shard holds a bucket).
-- * vectors_home_shard, deleted_vectors_home_shard: a shard's home rows without a scan of the store.

CREATE TABLE bucket_log (
    shard   integer NOT NULL CHECK (shard >= 0),
    seq     bigint  GENERATED ALWAYS AS IDENTITY,
    entries bytea   NOT NULL,
    PRIMARY KEY (shard, seq)
);

CREATE INDEX vectors_home_shard ON vectors (home_shard, vector_id);
CREATE INDEX deleted_vectors_home_shard ON deleted_vectors (home_shard);
