namespace LshCluster.Core.Vectors;

/// <summary>A refused vector: the reason, the offending field and a message a person can act on.</summary>
/// <param name="Code">The reason.</param>
/// <param name="Field">The field at fault, e.g. <c>vector</c> or <c>vector[17]</c>.</param>
/// <param name="Message">What is wrong, naming the field.</param>
public sealed record VectorError(VectorErrorCode Code, string Field, string Message)
{
    /// <inheritdoc />
    public override string ToString() => Message;
}
