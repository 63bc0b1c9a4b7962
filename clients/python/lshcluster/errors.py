"""Errors a call can end with. Each names the field at fault (when there is one) and says why, as the server does."""
from typing import Optional

import grpc


class LshClusterError(Exception):
    """A call failed. `code` is the gRPC status (e.g. "INVALID_ARGUMENT"), `field` the request field at fault or None."""

    def __init__(self, message: str, code: str = "UNKNOWN", field: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class InvalidArgument(LshClusterError, ValueError):
    """The request was refused as it stands (INVALID_ARGUMENT, or checked here before sending); nothing changed."""


class NotFound(LshClusterError, LookupError):
    """No such vector or cluster (NOT_FOUND)."""


class Unauthenticated(LshClusterError, PermissionError):
    """The server requires an API key, or did not accept the one sent (UNAUTHENTICATED)."""


class PermissionDenied(LshClusterError, PermissionError):
    """The key's role may not make this call, e.g. a producer key deleting (PERMISSION_DENIED)."""


class Unavailable(LshClusterError, ConnectionError):
    """No silo answered before the deadline (UNAVAILABLE): they are stopping, moving shards, or unreachable."""


class Overloaded(LshClusterError):
    """A shard is overloaded or a message is too large (RESOURCE_EXHAUSTED): slow down, or send smaller batches."""


class DeadlineExceeded(LshClusterError, TimeoutError):
    """The call did not finish before its deadline; for inserts, retrying is safe (ids are stored at most once)."""


class CursorExpired(LshClusterError):
    """watch(after=...): the cursor is older than the feed keeps (OUT_OF_RANGE); start again from a newer one, or None."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Overloaded,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.OUT_OF_RANGE: CursorExpired,
}


def field_of(message: str) -> Optional[str]:
    """The field a server message starts with ("vectors[3].values: …"), or None."""
    head, sep, _ = message.partition(": ")
    return head if sep and head and " " not in head else None


def from_rpc(error: grpc.RpcError, address: str) -> LshClusterError:
    """The error a failed call raises: the server's message kept whole, the silo named."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else None) or str(error)
    kind = _BY_CODE.get(code, LshClusterError)
    message = details if code in _BY_CODE and code != grpc.StatusCode.UNAVAILABLE else f"{details} (from {address})"
    return kind(message, code.name, field_of(details))
