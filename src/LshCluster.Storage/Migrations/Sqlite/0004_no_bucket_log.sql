-- LshCluster embedded store (SQLite), migration 0004: no bucket log.
--
-- Contract (relied upon by SqliteDedupStore and the shard grains; change it only with a new migration):
-- * A SQLite store is opened by one process, which loads every shard in one pass over vectors (bucket_keys holds each
--   vector's keys); it never needs one shard's entries apart from the rest, for which the log of migration 0003 was
--   kept. Writing it cost each vector its entries a second time (32 bytes per table: as much as the vector itself at
--   Fashion-MNIST's plan), so it goes. A shard's entries, when asked for alone, are read from vectors.bucket_keys
--   (deleted vectors, having left the table, have none).

DROP INDEX bucket_log_shard;
DROP TABLE bucket_log;
