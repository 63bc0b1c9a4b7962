-- LshCluster store (PostgreSQL), migration 0003: deleted vectors.
--
-- Contract (relied upon by PostgresDedupStore and the engine; ADR 0005):
-- * A delete moves a vector out of vectors, in the fenced transaction of its home shard: its row (values, external
--   id, bucket keys) is removed, which frees the external id for a later insert, and its internal id is kept here.
-- * deleted_vectors: one row per deleted vector id, with its home shard and when it was deleted. Nothing else of the
--   vector is kept. Its edges stay in edges: a cluster keeps the merges a deleted vector made (it stays in the
--   union-find forests as a ghost, never shown), so clusters are the same before and after a reload.
-- * vectors.deleted is no longer written (always false); a row is deleted by moving it here.

CREATE TABLE deleted_vectors (
    vector_id  bigint      PRIMARY KEY,
    home_shard integer     NOT NULL CHECK (home_shard >= 0),
    deleted_at timestamptz NOT NULL DEFAULT now()
);
