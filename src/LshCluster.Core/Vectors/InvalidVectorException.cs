namespace LshCluster.Core.Vectors;

/// <summary>Thrown by APIs that take one vector when it fails validation.</summary>
public sealed class InvalidVectorException : ArgumentException
{
    /// <summary>Wraps <paramref name="error"/>.</summary>
    public InvalidVectorException(VectorError error)
        : base(error.Message, error.Field) => Error = error;

    /// <summary>The validation failure.</summary>
    public VectorError Error { get; }
}
