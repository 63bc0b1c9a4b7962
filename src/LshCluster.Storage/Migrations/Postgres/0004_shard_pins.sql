-- LshCluster store (PostgreSQL), migration 0004: shards an admin moved to a chosen silo.
--
-- Contract (relied upon by PostgresMembershipStore and the silos' placement; ADR 0004):
-- * shard_pins: at most one row per shard, naming the silo address (as in silos.address) that should own it. Every
--   silo reads the pins each round and places a pinned shard on its silo while that address has a live, active
--   incarnation; otherwise the shard is placed as if unpinned. A pin outlives restarts of its silo (same address).
--   Deleting the row returns the shard to automatic placement.

CREATE TABLE shard_pins (
    shard     integer     PRIMARY KEY REFERENCES shard_leases (shard),
    address   text        NOT NULL,
    pinned_at timestamptz NOT NULL DEFAULT now()
);
