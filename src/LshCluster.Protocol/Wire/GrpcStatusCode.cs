namespace LshCluster.Protocol.Wire;

/// <summary>The status codes of the gRPC protocol, sent in the <c>grpc-status</c> trailer.</summary>
public enum GrpcStatusCode
{
    /// <summary>Success.</summary>
    OK = 0,

    /// <summary>The caller cancelled.</summary>
    Cancelled = 1,

    /// <summary>An error with no better code.</summary>
    Unknown = 2,

    /// <summary>The request is invalid whatever the state of the system (the message names the field).</summary>
    InvalidArgument = 3,

    /// <summary>The deadline passed before the call completed.</summary>
    DeadlineExceeded = 4,

    /// <summary>What was asked for does not exist.</summary>
    NotFound = 5,

    /// <summary>What was to be created exists.</summary>
    AlreadyExists = 6,

    /// <summary>The caller is known but not allowed.</summary>
    PermissionDenied = 7,

    /// <summary>Out of a resource: an overloaded shard, a message over the size limit. Slow down and retry.</summary>
    ResourceExhausted = 8,

    /// <summary>The system is not in a state for this call (e.g. this silo does not own the shard).</summary>
    FailedPrecondition = 9,

    /// <summary>A concurrency conflict; retry the whole operation.</summary>
    Aborted = 10,

    /// <summary>A value past the valid range.</summary>
    OutOfRange = 11,

    /// <summary>The method or a feature of the call is not implemented.</summary>
    Unimplemented = 12,

    /// <summary>A broken invariant.</summary>
    Internal = 13,

    /// <summary>The service cannot answer now; retrying (elsewhere) may work.</summary>
    Unavailable = 14,

    /// <summary>Data was lost or corrupted.</summary>
    DataLoss = 15,

    /// <summary>The caller did not prove who it is.</summary>
    Unauthenticated = 16,
}
