-- LshCluster store (PostgreSQL), migration 0005: the tables and stored queries of Orleans' ADO.NET providers.
--
-- Contract (relied upon by Microsoft.Orleans.Clustering.AdoNet and Microsoft.Orleans.Persistence.AdoNet 10.4.2 with
-- the invariant 'Npgsql'; tested against those providers by OrleansTablesTests; change it only with a new migration):
-- * The providers ship no SQL. They read each statement they run from OrleansQuery by key, bind parameters by name
--   (@DeploymentId, @Version, @GrainIdHash, ...) and read results by column name. Those names and the keys are the
--   interface; the statements behind them are ours. Each is one statement, so that a failure anywhere in it rolls
--   back all of it (the providers treat an error as "not done" and retry).
-- * Membership (the extended membership protocol): OrleansMembershipVersionTable holds one row per cluster
--   (DeploymentId = the cluster id) whose Version every change of the cluster's membership increments by
--   compare-and-set; OrleansMembershipTable one row per silo incarnation (address, port, generation). An insert or
--   update changes a silo's row only together with that increment, and answers 1 (done) or 0 (the version moved:
--   read again and retry). Status 6 is Dead; dead rows are pruned by the cleanup queries.
-- * Grain state: OrleansStorage, one row per grain and state name (the grain type string) per service, with an
--   integer Version as its ETag. A write names the version it read (NULL: none stored) and answers the new version,
--   or the old one when somebody else wrote meanwhile (the provider then throws InconsistentStateException). Payloads
--   are binary only (the providers' default serializer).
-- * Times are timestamptz (the providers pass UTC).

CREATE TABLE OrleansQuery (
    QueryKey  varchar(64) PRIMARY KEY,
    QueryText text        NOT NULL
);

CREATE TABLE OrleansMembershipVersionTable (
    DeploymentId varchar(150) PRIMARY KEY,
    Timestamp    timestamptz  NOT NULL DEFAULT now(),
    Version      integer      NOT NULL DEFAULT 0
);

CREATE TABLE OrleansMembershipTable (
    DeploymentId varchar(150)  NOT NULL REFERENCES OrleansMembershipVersionTable (DeploymentId),
    Address      varchar(45)   NOT NULL,
    Port         integer       NOT NULL,
    Generation   integer       NOT NULL,
    SiloName     varchar(150)  NOT NULL,
    HostName     varchar(150)  NOT NULL,
    Status       integer       NOT NULL,
    ProxyPort    integer,
    SuspectTimes varchar(8000),
    StartTime    timestamptz   NOT NULL,
    IAmAliveTime timestamptz   NOT NULL,
    PRIMARY KEY (DeploymentId, Address, Port, Generation)
);

CREATE TABLE OrleansStorage (
    GrainIdHash            integer      NOT NULL,
    GrainIdN0              bigint       NOT NULL,
    GrainIdN1              bigint       NOT NULL,
    GrainTypeHash          integer      NOT NULL,
    GrainTypeString        varchar(512) NOT NULL,
    GrainIdExtensionString varchar(512),
    ServiceId              varchar(150) NOT NULL,
    PayloadBinary          bytea,
    ModifiedOn             timestamptz  NOT NULL DEFAULT now(),
    Version                integer      NOT NULL
);

-- The grain's identity (the extension string may be NULL, so it cannot be part of a primary key). Inserts rely on it
-- for "at most one row per grain state" when two activations race during a partition.
CREATE UNIQUE INDEX OrleansStorage_Grain
    ON OrleansStorage (ServiceId, GrainTypeString, GrainIdN0, GrainIdN1, (coalesce(GrainIdExtensionString, '')));

-- The providers' parameters arrive untyped when NULL; every one is cast where PostgreSQL must infer its type.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', $q$
    WITH inserted AS (
        INSERT INTO OrleansMembershipVersionTable (DeploymentId) VALUES (@DeploymentId)
        ON CONFLICT (DeploymentId) DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM inserted
$q$),

-- The version is raised first (which locks the version row: concurrent writers queue there and find it moved), and
-- only when no row exists for the incarnation; a row inserted anyway by a racing writer makes the whole statement fail.
('InsertMembershipKey', $q$
    WITH bumped AS (
        UPDATE OrleansMembershipVersionTable v
        SET Version = v.Version + 1, Timestamp = now()
        WHERE v.DeploymentId = @DeploymentId AND v.Version = CAST(@Version AS integer) AND v.Version < 2147483647
          AND NOT EXISTS (SELECT 1 FROM OrleansMembershipTable m
                          WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address
                            AND m.Port = CAST(@Port AS integer) AND m.Generation = CAST(@Generation AS integer))
        RETURNING v.DeploymentId),
    inserted AS (
        INSERT INTO OrleansMembershipTable (DeploymentId, Address, Port, Generation, SiloName, HostName, Status,
                                            ProxyPort, StartTime, IAmAliveTime)
        SELECT DeploymentId, @Address, CAST(@Port AS integer), CAST(@Generation AS integer), @SiloName, @HostName,
               CAST(@Status AS integer), CAST(@ProxyPort AS integer), CAST(@StartTime AS timestamptz),
               CAST(@IAmAliveTime AS timestamptz)
        FROM bumped
        RETURNING 1)
    SELECT count(*)::integer FROM inserted
$q$),

('UpdateMembershipKey', $q$
    WITH bumped AS (
        UPDATE OrleansMembershipVersionTable v
        SET Version = v.Version + 1, Timestamp = now()
        WHERE v.DeploymentId = @DeploymentId AND v.Version = CAST(@Version AS integer) AND v.Version < 2147483647
          AND EXISTS (SELECT 1 FROM OrleansMembershipTable m
                      WHERE m.DeploymentId = @DeploymentId AND m.Address = @Address
                        AND m.Port = CAST(@Port AS integer) AND m.Generation = CAST(@Generation AS integer))
        RETURNING v.DeploymentId),
    updated AS (
        UPDATE OrleansMembershipTable m
        SET Status = CAST(@Status AS integer),
            SuspectTimes = CAST(@SuspectTimes AS varchar),
            IAmAliveTime = greatest(m.IAmAliveTime, CAST(@IAmAliveTime AS timestamptz))
        FROM bumped
        WHERE m.DeploymentId = bumped.DeploymentId AND m.Address = @Address
          AND m.Port = CAST(@Port AS integer) AND m.Generation = CAST(@Generation AS integer)
        RETURNING 1)
    SELECT count(*)::integer FROM updated
$q$),

-- Never expected to fail and its answer is not read; an older time never overwrites a newer one.
('UpdateIAmAlivetimeKey', $q$
    UPDATE OrleansMembershipTable
    SET IAmAliveTime = greatest(IAmAliveTime, CAST(@IAmAliveTime AS timestamptz))
    WHERE DeploymentId = @DeploymentId AND Address = @Address
      AND Port = CAST(@Port AS integer) AND Generation = CAST(@Generation AS integer)
$q$),

-- The version row always comes back, with a silo's columns NULL when it has no row yet.
('MembershipReadRowKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m
           ON m.DeploymentId = v.DeploymentId AND m.Address = @Address
          AND m.Port = CAST(@Port AS integer) AND m.Generation = CAST(@Generation AS integer)
    WHERE v.DeploymentId = @DeploymentId
$q$),

('MembershipReadAllKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
           m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
    FROM OrleansMembershipVersionTable v
    LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
    WHERE v.DeploymentId = @DeploymentId
$q$),

('DeleteMembershipTableEntriesKey', $q$
    WITH members AS (DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId)
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId
$q$),

('GatewaysQueryKey', $q$
    SELECT Address, ProxyPort, Generation
    FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = CAST(@Status AS integer) AND ProxyPort > 0
$q$),

-- Dead silos (status 6) not heard of since @IAmAliveTime and suspected by nobody.
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = 6
      AND IAmAliveTime < CAST(@IAmAliveTime AS timestamptz) AND StartTime < CAST(@IAmAliveTime AS timestamptz)
      AND coalesce(SuspectTimes, '') = ''
$q$),

-- One dead silo's row, only if it is still exactly as the caller read it.
('CleanupDefunctSiloEntryKey', $q$
    DELETE FROM OrleansMembershipTable
    WHERE DeploymentId = @DeploymentId AND Status = 6 AND Address = @Address
      AND Port = CAST(@Port AS integer) AND Generation = CAST(@Generation AS integer)
      AND IAmAliveTime = CAST(@IAmAliveTime AS timestamptz) AND StartTime = CAST(@StartTime AS timestamptz)
      AND coalesce(SuspectTimes, '') = coalesce(CAST(@SuspectTimes AS varchar), '')
$q$),

-- Columns as the provider reads them: the payload first, the version last.
('ReadFromStorageKey', $q$
    SELECT PayloadBinary, NULL::xml AS PayloadXml, NULL::text AS PayloadJson, now() AS ReadOn, Version
    FROM OrleansStorage
    WHERE ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdN0 = CAST(@GrainIdN0 AS bigint) AND GrainIdN1 = CAST(@GrainIdN1 AS bigint)
      AND coalesce(GrainIdExtensionString, '') = coalesce(CAST(@GrainIdExtensionString AS varchar), '')
$q$),

-- With a version: compare-and-set on it. Without one: insert, unless a row exists (another activation wrote first).
('WriteToStorageKey', $q$
    WITH updated AS (
        UPDATE OrleansStorage
        SET PayloadBinary = CAST(@PayloadBinary AS bytea), ModifiedOn = now(), Version = Version + 1
        WHERE CAST(@GrainStateVersion AS integer) IS NOT NULL
          AND ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
          AND GrainIdN0 = CAST(@GrainIdN0 AS bigint) AND GrainIdN1 = CAST(@GrainIdN1 AS bigint)
          AND coalesce(GrainIdExtensionString, '') = coalesce(CAST(@GrainIdExtensionString AS varchar), '')
          AND Version = CAST(@GrainStateVersion AS integer)
        RETURNING Version),
    inserted AS (
        INSERT INTO OrleansStorage (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString,
                                    GrainIdExtensionString, ServiceId, PayloadBinary, Version)
        SELECT CAST(@GrainIdHash AS integer), CAST(@GrainIdN0 AS bigint), CAST(@GrainIdN1 AS bigint),
               CAST(@GrainTypeHash AS integer), @GrainTypeString, CAST(@GrainIdExtensionString AS varchar), @ServiceId,
               CAST(@PayloadBinary AS bytea), 1
        WHERE CAST(@GrainStateVersion AS integer) IS NULL
        ON CONFLICT (ServiceId, GrainTypeString, GrainIdN0, GrainIdN1, (coalesce(GrainIdExtensionString, ''))) DO NOTHING
        RETURNING Version)
    SELECT coalesce((SELECT Version FROM updated), (SELECT Version FROM inserted), CAST(@GrainStateVersion AS integer))
           AS NewGrainStateVersion
$q$),

('ClearStorageKey', $q$
    UPDATE OrleansStorage
    SET PayloadBinary = NULL, ModifiedOn = now(), Version = Version + 1
    WHERE ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdN0 = CAST(@GrainIdN0 AS bigint) AND GrainIdN1 = CAST(@GrainIdN1 AS bigint)
      AND coalesce(GrainIdExtensionString, '') = coalesce(CAST(@GrainIdExtensionString AS varchar), '')
      AND Version = CAST(@GrainStateVersion AS integer)
    RETURNING Version AS NewGrainStateVersion
$q$),

('DeleteStorageKey', $q$
    DELETE FROM OrleansStorage
    WHERE ServiceId = @ServiceId AND GrainTypeString = @GrainTypeString
      AND GrainIdN0 = CAST(@GrainIdN0 AS bigint) AND GrainIdN1 = CAST(@GrainIdN1 AS bigint)
      AND coalesce(GrainIdExtensionString, '') = coalesce(CAST(@GrainIdExtensionString AS varchar), '')
      AND Version = CAST(@GrainStateVersion AS integer)
    RETURNING Version + 1 AS NewGrainStateVersion
$q$);
