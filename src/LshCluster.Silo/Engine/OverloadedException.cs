namespace LshCluster.Silo.Engine;

/// <summary>
/// The server is carrying as much work as it takes: the request was refused before it started and nothing changed.
/// Retry later, more slowly (gRPC <c>RESOURCE_EXHAUSTED</c>, HTTP 429).
/// </summary>
public sealed class OverloadedException(string message) : Exception(message);
