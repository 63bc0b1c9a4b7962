"""lshcluster.Client: a producer's and a reader's view of an LshCluster cluster (or the embedded server) over gRPC."""
import os
import re
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

import grpc
import numpy as np

from . import errors
from ._proto import lshcluster_pb2 as pb
from ._wire import encode_insert_request
from .types import (
    Cluster,
    ClusterMember,
    ClusterRef,
    DeleteResult,
    Event,
    InsertOutcome,
    ItemError,
    Neighbour,
    Stats,
    VectorInfo,
    cluster_of,
    event_of,
    stats_of,
    verdict_of,
)

#: The environment variable a key is read from when none is given (as `lshc … --server` reads it).
API_KEY_VARIABLE = "LSHC_API_KEY"

# A silo accepts requests up to 64 MB (a batch of 10,000 vectors of d = 1,536); clusters can be long answers.
_MAX_MESSAGE = 64 * 1024 * 1024
_MAX_BATCH = 10_000
# Failures after which the same request may be sent again (to another silo): ids make inserts idempotent.
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
# A watch stream that breaks this way is resumed after its last cursor (a silo died or restarted mid-stream).
_RESUMABLE = _RETRYABLE + (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED)
_ITEM = re.compile(r"items\[(\d+)\](\.vector|\.id)?")

TlsOption = Union[None, bool, str, bytes]


class _Silo:
    """One address with its channel and the calls made on it."""

    def __init__(self, address: str, credentials: Optional[grpc.ChannelCredentials]) -> None:
        self.address = address
        target = urlsplit(address).netloc if "://" in address else address
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]
        self.channel = grpc.secure_channel(target, credentials, options) if credentials else grpc.insecure_channel(target, options)
        c = self.channel
        self.insert = c.unary_unary("/lshcluster.v1.Ingest/Insert", request_serializer=None, response_deserializer=pb.InsertResponse.FromString)
        self.get_vector = c.unary_unary("/lshcluster.v1.Query/GetVector", pb.GetVectorRequest.SerializeToString, pb.GetVectorResponse.FromString)
        self.get_cluster = c.unary_unary("/lshcluster.v1.Query/GetCluster", pb.GetClusterRequest.SerializeToString, pb.Cluster.FromString)
        self.near = c.unary_unary("/lshcluster.v1.Query/NearDuplicates", pb.NearDuplicatesRequest.SerializeToString, pb.NearDuplicatesResponse.FromString)
        self.list_clusters = c.unary_unary("/lshcluster.v1.Query/ListClusters", pb.ListClustersRequest.SerializeToString, pb.ListClustersResponse.FromString)
        self.get_stats = c.unary_unary("/lshcluster.v1.Query/GetStats", pb.GetStatsRequest.SerializeToString, pb.Stats.FromString)
        self.watch = c.unary_stream("/lshcluster.v1.Feed/Watch", pb.WatchRequest.SerializeToString, pb.WatchEvent.FromString)
        self.list_silos = c.unary_unary("/lshcluster.v1.Admin/ListSilos", pb.ListSilosRequest.SerializeToString, pb.ListSilosResponse.FromString)
        self.delete = c.unary_unary("/lshcluster.v1.Admin/Delete", pb.DeleteRequest.SerializeToString, pb.DeleteResponse.FromString)


class Client:
    """A connection to an LshCluster cluster (any silo answers every call) or to `lshc serve`'s gRPC port.

    url: "http://HOST:PORT" (cleartext), "https://HOST:PORT" (TLS), "HOST:PORT" (as `tls` says), or several of them.
    The client learns the other silos from the first one it reaches and moves to another when one stops answering.
    api_key: sent as "Authorization: Bearer KEY"; None reads $LSHC_API_KEY (no key when it is unset).
    tls: None follows the URL's scheme; True verifies the server with the system's roots; a path to a PEM file (or
    the PEM bytes) verifies it with those roots instead (a self-signed cluster); False: cleartext.
    timeout: seconds a call may take, retries included. batch_size: vectors per request (the server takes at most
    10,000). in_flight: insert requests sent and not yet answered.

    A Client is safe to share between threads. Close it (or use `with`) to release its connections.
    """

    def __init__(
        self,
        url: Union[str, Sequence[str]],
        api_key: Optional[str] = None,
        tls: TlsOption = None,
        *,
        timeout: float = 60.0,
        batch_size: int = 1000,
        in_flight: int = 4,
    ) -> None:
        urls = [url] if isinstance(url, str) else list(url)
        if not urls or not all(isinstance(u, str) and u.strip() for u in urls):
            raise errors.InvalidArgument("url: expected 'http://HOST:PORT', 'https://HOST:PORT' or a list of them", "INVALID_ARGUMENT", "url")
        if not 1 <= batch_size <= _MAX_BATCH:
            raise errors.InvalidArgument(f"batch_size: must be 1 … {_MAX_BATCH:,}; got {batch_size}", "INVALID_ARGUMENT", "batch_size")
        if in_flight < 1:
            raise errors.InvalidArgument(f"in_flight: must be at least 1; got {in_flight}", "INVALID_ARGUMENT", "in_flight")
        if timeout <= 0:
            raise errors.InvalidArgument(f"timeout: must be positive; got {timeout}", "INVALID_ARGUMENT", "timeout")
        self._credentials = _credentials(tls, urls)
        key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE)
        self._metadata: Tuple[Tuple[str, str], ...] = (("authorization", f"Bearer {key}"),) if key else ()
        self.timeout = timeout
        self.batch_size = batch_size
        self.in_flight = in_flight
        self._lock = threading.Lock()
        self._silos: List[_Silo] = [_Silo(_normalise(u), self._credentials) for u in urls]
        self._current = 0
        self._discovered = False

    # ---------------------------------------------------------------------------------------------------- inserting

    def insert(self, ids: Sequence[str], vectors: Any, *, timeout: Optional[float] = None) -> List[InsertOutcome]:
        """Stores vectors[i] under ids[i] and returns, in order, a Verdict for each one or an ItemError for one refused.

        vectors: a float32 array of shape (n, d) (other real dtypes are converted), any n: it is sent in batches of
        batch_size, in_flight at a time. A batch that meets a stopping silo or an overload is sent again (elsewhere)
        until `timeout` seconds have passed; re-sending an id stores nothing twice (its verdict comes back with
        repeated=True). Items without a verdict at the deadline come back as ItemError(code="unavailable"): send
        them again. Raises InvalidArgument (nothing sent) when ids and vectors do not match, and the call's error when a
        whole request is refused (e.g. Unauthenticated); batches answered before it stay stored.
        """
        keys, matrix = _check_insert(ids, vectors)
        deadline = time.monotonic() + (timeout or self.timeout)
        results: List[Optional[InsertOutcome]] = [None] * len(keys)
        pending: Deque[Tuple[np.ndarray, Any]] = deque()
        for start in range(0, len(keys), self.batch_size):
            indexes = np.arange(start, min(start + self.batch_size, len(keys)))
            while len(pending) >= self.in_flight:
                self._finish_insert(*pending.popleft(), keys, matrix, results, deadline)
            pending.append((indexes, self._send_insert(indexes, keys, matrix, deadline)))
        while pending:
            self._finish_insert(*pending.popleft(), keys, matrix, results, deadline)
        return results  # type: ignore[return-value]  # every slot is filled by _finish_insert

    def _send_insert(self, indexes: np.ndarray, keys: List[bytes], matrix: np.ndarray, deadline: float) -> Any:
        payload = encode_insert_request([keys[i] for i in indexes], matrix[indexes])
        silo = self._silo()
        return silo, silo.insert.future(payload, timeout=max(deadline - time.monotonic(), 0.001), metadata=self._metadata)

    def _finish_insert(self, indexes: np.ndarray, sent: Any, keys: List[bytes], matrix: np.ndarray,
                       results: List[Optional[InsertOutcome]], deadline: float) -> None:
        backoff = 0.05
        while True:
            silo, future = sent
            last_failure = ""
            retry: List[int] = []
            try:
                response = future.result()
            except grpc.RpcError as e:
                if e.code() not in _RETRYABLE and e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise errors.from_rpc(e, silo.address) from None
                retry = list(range(len(indexes)))
                last_failure = f"{e.code().name}: {e.details()} (from {silo.address})"
                if e.code() == grpc.StatusCode.UNAVAILABLE:
                    self._fail_over(silo)
            else:
                answered = set()
                for r in response.results:
                    answered.add(r.index)
                    at = int(indexes[r.index])
                    if r.WhichOneof("outcome") == "verdict":
                        results[at] = verdict_of(r.verdict)
                    elif r.error.code in ("retry", "unavailable") and time.monotonic() < deadline:
                        retry.append(r.index)
                        last_failure = r.error.message
                    else:
                        results[at] = _item_error(r.error, r.index, at)
                if len(answered) < len(indexes):  # a server answers every item; should one not, it is sent again
                    retry.extend(i for i in range(len(indexes)) if i not in answered)
                    last_failure = f"{silo.address} answered {len(answered)} of {len(indexes)} items"
            if not retry:
                return
            indexes = indexes[retry]
            if time.monotonic() + backoff >= deadline:
                for at in indexes:
                    results[int(at)] = ItemError(int(at), f"vectors[{at}]", "unavailable",
                                                 f"vectors[{at}]: no verdict before the deadline ({last_failure}); send it again (an id is stored at most once)")
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
            sent = self._send_insert(indexes, keys, matrix, deadline)

    # ---------------------------------------------------------------------------------------------------- querying

    def query(self, vector: Any, min_cosine: Optional[float] = None, limit: int = 100) -> List[Neighbour]:
        """The stored vectors whose cosine to `vector` is at least min_cosine (None: the lowest rung), closest first."""
        values = _check_vector(vector)
        if limit < 1:
            raise errors.InvalidArgument(f"limit: must be at least 1; got {limit}", "INVALID_ARGUMENT", "limit")
        request = pb.NearDuplicatesRequest(values=values.tolist(), min_cosine=min_cosine or 0.0, limit=limit)
        response = self._call(lambda s: s.near, request)
        return [Neighbour(n.id, n.vector_id, n.cosine, n.cluster_id) for n in response.neighbours]

    def get(self, id: str) -> VectorInfo:
        """A stored vector's verdict and its cluster at every rung. Raises NotFound."""
        _check_id(id, "id")
        response = self._call(lambda s: s.get_vector, pb.GetVectorRequest(id=id))
        return VectorInfo(verdict_of(response.verdict),
                          tuple(ClusterRef(c.rung, c.cluster_id, c.canonical_id, c.size) for c in response.clusters))

    def cluster(self, id: Union[str, int], rung: Optional[float] = None, *, core: bool = False,
                limit: Optional[int] = None, page_size: int = 1000) -> Cluster:
        """The cluster holding vector `id` (a str), or the cluster with that cluster id (an int), with its members.

        rung None: the highest. core=True lists only the members within the rung of the canonical one (and counts
        them in core_size). Members are read in pages of page_size; limit stops after that many. Raises NotFound.
        """
        if isinstance(id, str):
            _check_id(id, "id")
        elif not isinstance(id, (int, np.integer)) or isinstance(id, bool) or id <= 0:
            raise errors.InvalidArgument(f"id: expected a vector id (str) or a cluster id (positive int); got {id!r}", "INVALID_ARGUMENT", "id")
        if not 1 <= page_size <= 10_000:
            raise errors.InvalidArgument(f"page_size: must be 1 … 10,000; got {page_size}", "INVALID_ARGUMENT", "page_size")
        if limit is not None and limit < 0:
            raise errors.InvalidArgument(f"limit: must be 0 or more; got {limit}", "INVALID_ARGUMENT", "limit")
        members: List[Any] = []
        after = 0
        while True:
            take = page_size if limit is None else min(page_size, limit - len(members))
            request = pb.GetClusterRequest(rung=rung or 0.0, take=max(take, 1), after=after, core=core)
            if isinstance(id, str):
                request.id = id
            else:
                request.cluster_id = int(id)
            page = self._call(lambda s: s.get_cluster, request)
            chunk = list(page.members)[: max(take, 0)]
            members.extend(chunk)
            if len(page.members) < max(take, 1) or (limit is not None and len(members) >= limit) or not chunk:
                break
            after = chunk[-1].vector_id
        return replace(cluster_of(page, core=core), members=tuple(ClusterMember(m.id, m.vector_id, m.cosine_to_canonical) for m in members))

    def clusters(self, rung: Optional[float] = None, top: int = 10, min_size: int = 2) -> List[Cluster]:
        """The `top` largest clusters of at least min_size members at `rung` (None: the highest), largest first."""
        if top < 1:
            raise errors.InvalidArgument(f"top: must be at least 1; got {top}", "INVALID_ARGUMENT", "top")
        if min_size < 1:
            raise errors.InvalidArgument(f"min_size: must be at least 1; got {min_size}", "INVALID_ARGUMENT", "min_size")
        response = self._call(lambda s: s.list_clusters, pb.ListClustersRequest(rung=rung or 0.0, min_size=min_size, take=top))
        return [cluster_of(c) for c in response.clusters]

    def stats(self) -> Stats:
        """Vectors, duplicates and, per rung, clusters and the live recall estimate."""
        return stats_of(self._call(lambda s: s.get_stats, pb.GetStatsRequest()))

    # ---------------------------------------------------------------------------------------------------- changing

    def delete(self, ids: Sequence[str], *, timeout: Optional[float] = None) -> List[DeleteResult]:
        """Deletes vectors by id (an admin key): no longer matched, listed or counted. One DeleteResult per id, in order.

        deleted=False: it was not stored (nothing changed). A request that meets a stopping silo is sent again; an id
        whose first attempt was answered too late to be seen then reports deleted=False.
        """
        keys = _check_ids(ids)
        out: List[DeleteResult] = []
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start:start + self.batch_size]
            response = self._call(lambda s: s.delete, pb.DeleteRequest(ids=chunk), timeout)
            for r in response.results:
                at = start + r.index
                error = _item_error(r.error, r.index, at, name="ids") if r.HasField("error") else None
                out.append(DeleteResult(at, r.id, r.deleted, error))
        return out

    # ---------------------------------------------------------------------------------------------------- the feed

    def watch(self, after: Optional[int] = None) -> Iterator[Event]:
        """The change feed after cursor `after` (None: from the oldest event kept), then each event as it commits.

        The iterator does not end by itself: break out of it (or close it). When its silo stops, it resumes after the
        last event it yielded on another silo: nothing is missed and nothing is seen twice. Raises CursorExpired when
        `after` is older than the feed keeps, and Unavailable when no silo answers for `timeout` seconds.
        """
        cursor = int(after or 0)
        if cursor < 0:
            raise errors.InvalidArgument(f"after: must be a cursor (0 or more); got {after}", "INVALID_ARGUMENT", "after")
        broken_since: Optional[float] = None
        backoff = 0.05
        while True:
            silo = self._silo()
            stream = silo.watch(pb.WatchRequest(after=cursor), metadata=self._metadata)
            try:
                for e in stream:
                    broken_since = None
                    backoff = 0.05
                    cursor = e.cursor
                    yield event_of(e)
            except grpc.RpcError as e:
                if e.code() not in _RESUMABLE:
                    raise errors.from_rpc(e, silo.address) from None
                now = time.monotonic()
                broken_since = broken_since or now
                if now - broken_since > self.timeout:
                    raise errors.from_rpc(e, silo.address) from None
                if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    self._fail_over(silo)
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                stream.cancel()

    # ---------------------------------------------------------------------------------------------------- plumbing

    def close(self) -> None:
        """Closes every connection."""
        with self._lock:
            for s in self._silos:
                s.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def addresses(self) -> List[str]:
        """The silos this client knows, the one it calls first."""
        with self._lock:
            return [s.address for s in self._silos[self._current:] + self._silos[: self._current]]

    def _silo(self) -> _Silo:
        if not self._discovered:
            self._discover()
        with self._lock:
            return self._silos[self._current]

    def _discover(self) -> None:
        """Learns the cluster's other silos from the one it calls (once; a server that will not say is fine)."""
        self._discovered = True
        with self._lock:
            silo = self._silos[self._current]
        try:
            response = silo.list_silos(pb.ListSilosRequest(), timeout=5, metadata=self._metadata)
        except grpc.RpcError:
            return
        with self._lock:
            known = {s.address for s in self._silos}
            for s in response.silos:
                address = _normalise(s.address)
                if s.status in ("active", "joining") and address not in known:
                    self._silos.append(_Silo(address, self._credentials))
                    known.add(address)

    def _fail_over(self, failed: _Silo) -> None:
        with self._lock:
            if self._silos[self._current] is failed and len(self._silos) > 1:
                self._current = (self._current + 1) % len(self._silos)

    def _call(self, method: Callable[[_Silo], Any], request: Any, timeout: Optional[float] = None) -> Any:
        """A unary call, sent again (to the next silo) while silos are stopping or overloaded, until the deadline."""
        deadline = time.monotonic() + (timeout or self.timeout)
        backoff = 0.05
        while True:
            silo = self._silo()
            try:
                return method(silo)(request, timeout=max(deadline - time.monotonic(), 0.001), metadata=self._metadata)
            except grpc.RpcError as e:
                if e.code() not in _RETRYABLE or time.monotonic() + backoff >= deadline:
                    raise errors.from_rpc(e, silo.address) from None
                if e.code() == grpc.StatusCode.UNAVAILABLE:
                    self._fail_over(silo)
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)


def _normalise(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


def _credentials(tls: TlsOption, urls: Sequence[str]) -> Optional[grpc.ChannelCredentials]:
    if tls is None:
        schemes = {urlsplit(u).scheme if "://" in u else "http" for u in urls}
        if not schemes <= {"http", "https"}:
            raise errors.InvalidArgument(f"url: the scheme must be http or https; got {sorted(schemes)}", "INVALID_ARGUMENT", "url")
        if len(schemes) > 1:
            raise errors.InvalidArgument("url: all silos of a cluster use TLS or none do; the URLs mix http and https", "INVALID_ARGUMENT", "url")
        tls = schemes == {"https"}
    if tls is False:
        return None
    if tls is True:
        return grpc.ssl_channel_credentials()
    if isinstance(tls, str):
        try:
            with open(tls, "rb") as f:
                tls = f.read()
        except OSError as e:
            raise errors.InvalidArgument(f"tls: cannot read the root certificates '{e.filename}': {e.strerror}", "INVALID_ARGUMENT", "tls") from None
    if isinstance(tls, bytes):
        if b"-----BEGIN CERTIFICATE-----" not in tls:
            raise errors.InvalidArgument("tls: expected PEM root certificates (-----BEGIN CERTIFICATE-----)", "INVALID_ARGUMENT", "tls")
        return grpc.ssl_channel_credentials(root_certificates=tls)
    raise errors.InvalidArgument(f"tls: expected None, True, False, a PEM file's path or PEM bytes; got {type(tls).__name__}", "INVALID_ARGUMENT", "tls")


def _check_id(id: Any, name: str) -> None:
    if not isinstance(id, str):
        raise errors.InvalidArgument(f"{name}: expected str, got {type(id).__name__}", "INVALID_ARGUMENT", name)


def _check_ids(ids: Sequence[str]) -> List[str]:
    if isinstance(ids, (str, bytes)):
        raise errors.InvalidArgument("ids: expected a sequence of str, got a single string", "INVALID_ARGUMENT", "ids")
    out = list(ids)
    for i, id in enumerate(out):
        _check_id(id, f"ids[{i}]")
    return out


def _check_insert(ids: Sequence[str], vectors: Any) -> Tuple[List[bytes], np.ndarray]:
    keys = _check_ids(ids)
    try:
        matrix = np.asarray(vectors)
    except (TypeError, ValueError) as e:
        raise errors.InvalidArgument(f"vectors: not an array of numbers ({e})", "INVALID_ARGUMENT", "vectors") from None
    if matrix.ndim != 2:
        raise errors.InvalidArgument(f"vectors: expected a 2-D array of shape (n, d); got shape {matrix.shape}", "INVALID_ARGUMENT", "vectors")
    if matrix.dtype.kind not in "fiu":
        raise errors.InvalidArgument(f"vectors: expected real numbers (float32); got dtype {matrix.dtype}", "INVALID_ARGUMENT", "vectors")
    if matrix.shape[0] != len(keys):
        raise errors.InvalidArgument(f"ids: {len(keys)} ids for {matrix.shape[0]} vectors; give one id per row", "INVALID_ARGUMENT", "ids")
    return [k.encode("utf-8") for k in keys], np.ascontiguousarray(matrix, dtype="<f4")


def _check_vector(vector: Any) -> np.ndarray:
    try:
        values = np.asarray(vector)
    except (TypeError, ValueError) as e:
        raise errors.InvalidArgument(f"vector: not an array of numbers ({e})", "INVALID_ARGUMENT", "vector") from None
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1 or values.dtype.kind not in "fiu":
        raise errors.InvalidArgument(f"vector: expected a 1-D array of real numbers; got shape {values.shape}, dtype {values.dtype}", "INVALID_ARGUMENT", "vector")
    return values.astype(np.float32)


def _item_error(e: "pb.ItemError", index_in_request: int, at: int, name: str = "vectors") -> ItemError:
    """The server's item error with its field and message naming the item as the caller passed it."""
    def rename(match: "re.Match[str]") -> str:
        if int(match.group(1)) != index_in_request:
            return match.group(0)
        return f"ids[{at}]" if match.group(2) == ".id" else f"{name}[{at}]"

    return ItemError(at, _ITEM.sub(rename, e.field), e.code, _ITEM.sub(rename, e.message))
