-- LshCluster store (PostgreSQL), migration 0002: cluster membership.
--
-- Contract (relied upon by PostgresMembershipStore and the silos; change it only with a new migration and an ADR):
-- * silos: one row per incarnation of a silo, keyed by (address, generation); generations come from one sequence,
--   so a restarted silo is always a newer incarnation. status is active, draining or left. A silo is alive while
--   lease_expires > now() by the DATABASE's clock and it has not left; it renews every few seconds.
-- * shard_leases.owner names its owner as 'address#generation'; NULL when released. A shard may be claimed (its
--   epoch incremented, which fences the previous owner's writes) only when its owner is NULL, not alive, or the
--   claimer itself.
-- * edges_b: lets a silo that has just taken shards over read the edges committed after it loaded (b >= an id).

CREATE SEQUENCE silo_generation;

CREATE TABLE silos (
    address       text        NOT NULL,
    generation    bigint      NOT NULL,
    status        text        NOT NULL CHECK (status IN ('active', 'draining', 'left')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    lease_expires timestamptz NOT NULL,
    PRIMARY KEY (address, generation)
);

CREATE INDEX edges_b ON edges (b);
