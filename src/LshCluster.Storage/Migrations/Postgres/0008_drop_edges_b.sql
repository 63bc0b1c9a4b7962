-- LshCluster store (PostgreSQL), migration 0008: the index edges_b (0002) is dropped.
--
-- It let a silo that had just taken shards over read only the edges committed after its load (b >= an id); shard
-- grains load from their own rows and the edges once per activation group (ADR 0006), and nothing reads edges by b.
-- Every edge insert paid for it.

DROP INDEX IF EXISTS edges_b;
