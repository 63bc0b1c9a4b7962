namespace LshCluster.Storage;

/// <summary>
/// A batch hashed with a learning scheme was refused because the cluster has fixed its hashing since (ADR 0009): its
/// bucket keys are not the stored scheme's. Nothing of the batch was written; hashed again with the stored scheme, it
/// may be sent again.
/// </summary>
public sealed class SchemeChangedException(ulong hashedWith, ulong stored)
    : Exception($"the batch was hashed with scheme {hashedWith:x16}, but the cluster has fixed its scheme {stored:x16} since (it learned its hashing from its first vectors); nothing was written: hash it again and resend")
{
    /// <summary>The fingerprint the refused batch was hashed with.</summary>
    public ulong HashedWith { get; } = hashedWith;

    /// <summary>The fingerprint of the stored scheme.</summary>
    public ulong Stored { get; } = stored;
}
