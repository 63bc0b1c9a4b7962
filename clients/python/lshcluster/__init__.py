"""LshCluster's Python client: NumPy arrays of embeddings in, near-duplicate verdicts and clusters out.

    import numpy as np, lshcluster
    with lshcluster.Client("http://127.0.0.1:7000") as client:
        verdicts = client.insert(ids, vectors)   # vectors: float32, shape (n, d)

See docs/python.md in the repository.
"""
from .client import API_KEY_VARIABLE, Client
from .errors import (
    CursorExpired,
    DeadlineExceeded,
    InvalidArgument,
    LshClusterError,
    NotFound,
    Overloaded,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from .types import (
    Cluster,
    ClusterMember,
    ClusterRef,
    DeleteResult,
    Event,
    InsertOutcome,
    ItemError,
    Neighbour,
    RungStats,
    Stats,
    Verdict,
    VectorInfo,
)

__version__ = "0.1.0"

__all__ = [
    "API_KEY_VARIABLE",
    "Client",
    "Cluster",
    "ClusterMember",
    "ClusterRef",
    "CursorExpired",
    "DeadlineExceeded",
    "DeleteResult",
    "Event",
    "InsertOutcome",
    "InvalidArgument",
    "ItemError",
    "LshClusterError",
    "Neighbour",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "RungStats",
    "Stats",
    "Unauthenticated",
    "Unavailable",
    "VectorInfo",
    "Verdict",
]
