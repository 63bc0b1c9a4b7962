-- LshCluster store (PostgreSQL), migration 0009: the bucket log may be left behind by the embedded engine.
--
-- Contract (relied upon by PostgresDedupStore; change it only with a new migration):
-- * cluster_config.bucket_log_complete: true while bucket_log holds an entry for every stored vector and table. The
--   embedded engine loads its shards from the vectors' keys and does not write the log (it was 40 % of the WAL of an
--   insert); its first commit without the log sets the flag false in the same transaction. A silo's shard load that
--   finds it false rebuilds the log from the vectors' keys first, holding the row FOR UPDATE and the log table
--   EXCLUSIVE, and sets it true.

ALTER TABLE cluster_config ADD COLUMN IF NOT EXISTS bucket_log_complete boolean NOT NULL DEFAULT true;
