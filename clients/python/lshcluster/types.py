"""What calls return: plain, immutable values (no protobuf objects leak out)."""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from ._proto import lshcluster_pb2 as pb


@dataclass(frozen=True)
class Verdict:
    """What the cluster decided about one inserted vector.

    kind is "new" (no stored vector reaches the lowest rung) or "duplicate". For a duplicate: the highest rung its best
    match reaches, the cluster at that rung (its id and canonical, i.e. earliest stored, member) and the closest stored
    vector with its cosine. repeated: the id was stored before (by an earlier call, or by an attempt of this one whose
    answer was lost); this is the verdict given then, and nothing was stored now.
    """

    id: str
    vector_id: int
    kind: str
    rung: Optional[float] = None
    cluster_id: Optional[int] = None
    canonical_id: Optional[str] = None
    best_match_id: Optional[str] = None
    best_cosine: Optional[float] = None
    repeated: bool = False

    @property
    def is_duplicate(self) -> bool:
        """True for a duplicate."""
        return self.kind == "duplicate"


@dataclass(frozen=True)
class ItemError:
    """Why one item got no verdict. Returned in place of its verdict; nothing was stored for it, except that with code
    "unavailable" (no verdict before the deadline) it may have been: send it again, an id is stored at most once.

    field names the argument at fault as passed to the call (e.g. "vectors[3]"); code is stable (wrong_dimension,
    not_a_number, infinite, zero_norm, empty_id, id_too_long, unavailable, …); message says why, for people.
    """

    index: int
    field: str
    code: str
    message: str


InsertOutcome = Union[Verdict, ItemError]


@dataclass(frozen=True)
class Neighbour:
    """A stored vector near the one asked about."""

    id: str
    vector_id: int
    cosine: float
    cluster_id: int


@dataclass(frozen=True)
class ClusterRef:
    """A vector's cluster at one rung."""

    rung: float
    cluster_id: int
    canonical_id: str
    size: int


@dataclass(frozen=True)
class VectorInfo:
    """A stored vector: its verdict and its cluster at every rung, highest rung first."""

    verdict: Verdict
    clusters: Tuple[ClusterRef, ...]


@dataclass(frozen=True)
class ClusterMember:
    """A member of a cluster and its cosine to the cluster's canonical member."""

    id: str
    vector_id: int
    cosine_to_canonical: float


@dataclass(frozen=True)
class Cluster:
    """A cluster at a rung: the vectors connected by near-duplicate pairs at or above it.

    coherence is the lowest cosine of a member to the canonical one, over coherence_sample members (size when exact):
    below the rung the cluster is chained (some members do not resemble the canonical one; ask for the core).
    members is empty in lists of clusters; with core=True it lists the core only and core_size counts it.
    """

    rung: float
    cluster_id: int
    canonical_id: str
    size: int
    coherence: float
    coherence_sample: int
    chained: bool
    members: Tuple[ClusterMember, ...] = ()
    core_size: Optional[int] = None


@dataclass(frozen=True)
class RungStats:
    """Clusters at one rung, and the live recall measured on a sample of inserts (None before any sample)."""

    rung: float
    clusters: int
    clustered_vectors: int
    largest_cluster: int
    sampled_recall: Optional[float]
    sampled_recall_interval: Optional[Tuple[float, float]]
    sampled_vectors: int
    sampled_pairs: int


@dataclass(frozen=True)
class Stats:
    """What is stored."""

    vectors: int
    duplicates: int
    shards: int
    rungs: Tuple[RungStats, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DeleteResult:
    """One id of a delete: deleted (it was stored and now is not), not stored (False), or an error (nothing changed)."""

    index: int
    id: str
    deleted: bool
    error: Optional[ItemError] = None


@dataclass(frozen=True)
class Event:
    """One entry of the change feed, in commit order. Resume after `cursor` to miss nothing and see nothing twice.

    kind is "verdict" (a vector was stored: verdict_kind "new" or "duplicate" of best_match_vector_id in cluster_id at
    rung), "merge" (at rung, cluster cluster_id joined into_cluster_id) or "deletion" (vector id / vector_id).
    """

    cursor: int
    at_unix_ms: int
    kind: str
    id: Optional[str] = None
    vector_id: Optional[int] = None
    verdict_kind: Optional[str] = None
    rung: Optional[float] = None
    cluster_id: Optional[int] = None
    into_cluster_id: Optional[int] = None
    best_match_vector_id: Optional[int] = None
    best_cosine: Optional[float] = None


_KINDS = {pb.VERDICT_KIND_NEW: "new", pb.VERDICT_KIND_DUPLICATE: "duplicate"}


def verdict_of(v: "pb.Verdict") -> Verdict:
    duplicate = v.kind == pb.VERDICT_KIND_DUPLICATE
    return Verdict(
        id=v.id,
        vector_id=v.vector_id,
        kind=_KINDS.get(v.kind, "unspecified"),
        rung=v.rung if duplicate else None,
        cluster_id=v.cluster_id if duplicate else None,
        canonical_id=v.canonical_id if duplicate else None,
        best_match_id=v.best_match_id or None,
        best_cosine=v.best_cosine if v.best_match_id else None,
        repeated=v.repeated,
    )


def cluster_of(c: "pb.Cluster", core: bool = False) -> Cluster:
    """A cluster without its members (the caller pages through them)."""
    return Cluster(
        rung=c.rung,
        cluster_id=c.cluster_id,
        canonical_id=c.canonical_id,
        size=c.size,
        coherence=c.coherence,
        coherence_sample=c.coherence_sample,
        chained=c.coherence < c.rung,
        core_size=c.core_size if core else None,
    )


def stats_of(s: "pb.Stats") -> Stats:
    return Stats(
        vectors=s.vectors,
        duplicates=s.duplicates,
        shards=s.shards,
        rungs=tuple(
            RungStats(
                rung=r.rung,
                clusters=r.clusters,
                clustered_vectors=r.clustered_vectors,
                largest_cluster=r.largest_cluster,
                sampled_recall=r.sampled_recall if r.sampled_vectors else None,
                sampled_recall_interval=(r.sampled_recall_low, r.sampled_recall_high) if r.sampled_vectors else None,
                sampled_vectors=r.sampled_vectors,
                sampled_pairs=r.sampled_pairs,
            )
            for r in s.rungs
        ),
    )


def event_of(e: "pb.WatchEvent") -> Event:
    which = e.WhichOneof("event")
    if which == "verdict":
        v = e.verdict
        duplicate = v.kind == pb.VERDICT_KIND_DUPLICATE
        return Event(e.cursor, e.at_unix_ms, "verdict", id=v.id, vector_id=v.vector_id, verdict_kind=_KINDS.get(v.kind, "unspecified"),
                     rung=v.rung if duplicate else None, cluster_id=v.cluster_id if duplicate else None,
                     best_match_vector_id=v.best_match_vector_id if duplicate else None, best_cosine=v.best_cosine if duplicate else None)
    if which == "merge":
        m = e.merge
        return Event(e.cursor, e.at_unix_ms, "merge", rung=m.rung, cluster_id=m.cluster_id, into_cluster_id=m.into_cluster_id)
    if which == "deletion":
        d = e.deletion
        return Event(e.cursor, e.at_unix_ms, "deletion", id=d.id, vector_id=d.vector_id)
    return Event(e.cursor, e.at_unix_ms, "unknown")
