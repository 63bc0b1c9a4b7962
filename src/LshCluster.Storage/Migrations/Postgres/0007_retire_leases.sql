-- LshCluster store (PostgreSQL), migration 0007: the silos' own membership is retired (ADR 0006).
--
-- Silos find each other through Orleans' membership tables (0005) now; the silo incarnations and lease expiries of
-- 0002 and the admins' shard pins of 0004 have no reader. shard_leases stays: its epochs fence every commit (a shard
-- activation claims a new one), and owner names the activation that claimed it, for diagnosis.

DROP TABLE IF EXISTS shard_pins;
DROP TABLE IF EXISTS silos;
DROP SEQUENCE IF EXISTS silo_generation;
