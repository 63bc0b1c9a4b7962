using LshCluster.Protocol;
using LshCluster.Protocol.Internal;
using LshCluster.Silo.Cluster;
using LshCluster.Silo.Diagnostics;

namespace LshCluster.Silo.Engine;

/// <summary>The engine's side of inserts the .NET client hashed itself.</summary>
public sealed partial class DedupEngine
{
    /// <summary>
    /// Inserts vectors hashed by the .NET client. Each is checked again as a producer's item would be — the caller may be
    /// a client of another version.
    /// </summary>
    internal async Task<List<InsertResult>> InsertHashedAsync(HashedInsertRequest request, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        ThrowIfFaulted();
        if (request.Vectors.Count > _options.MaxBatchSize)
        {
            throw new ArgumentException($"vectors: a batch holds at most {_options.MaxBatchSize} vectors; got {request.Vectors.Count}. Split it.");
        }

        using var admitted = Admit(request.Vectors.Count);
        using var pass = await EnterAsync(cancellationToken).ConfigureAwait(false);
        var hashing = await CurrentHashingAsync(cancellationToken).ConfigureAwait(false);
        var hashedHere = request.SchemeFingerprint != hashing.Scheme.Fingerprint; // the client's scheme was learning
        if (hashing.Scheme.IsLearning)
        {
            CountAdmitted(request.Vectors.Count);
        }

        var results = new List<InsertResult>(request.Vectors.Count);
        var items = new List<HashedItem>(request.Vectors.Count);
        foreach (var v in request.Vectors)
        {
            // Copied once: validated, then kept by the home record.
            var values = v.Values.Length % sizeof(float) == 0 ? PackedArrays.ToArray<float>(v.Values, "values") : [];
            var error = v.Values.Length % sizeof(float) == 0
                ? Validate(new VectorInput(v.Id, values), v.Index)
                : new ItemError($"items[{v.Index}].vector", "malformed", $"items[{v.Index}].vector: {v.Values.Length} bytes is not a whole number of floats");
            HashedItem? item = null;
            if (error is null)
            {
                (item, error) = hashedHere
                    ? (Hash(hashing, v.Index, v.Id, values), null)
                    : ProtoMapping.FromWire(v, values, hashing.Scheme, hashing.Hasher.ProjectionLength);
            }

            if (item is null)
            {
                results.Add(new InsertResult(v.Index, null, error));
            }
            else
            {
                items.Add(item);
            }
        }

        var deadlineOrDefault = deadline == DateTimeOffset.MaxValue ? _options.Time.GetUtcNow() + _options.RequestTimeout : deadline;
        results.AddRange(await RouteInsertAsync(items, hashing, deadlineOrDefault, cancellationToken).ConfigureAwait(false));
        LshClusterMetrics.RecordRefusals(results);
        return results;
    }
}
