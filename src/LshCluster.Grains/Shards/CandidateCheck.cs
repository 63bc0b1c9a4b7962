using LshCluster.Core.Kernels;

namespace LshCluster.Grains.Shards;

/// <summary>The exact-cosine check of a new vector against one candidate's home record, screened by their projections.</summary>
internal static class CandidateCheck
{
    /// <summary>
    /// The cosine of the new vector (<paramref name="values"/>, its projection <paramref name="projection"/>, their
    /// squared norms) with <paramref name="candidate"/>, or NaN (below every rung) when their projected cosine is below
    /// <paramref name="screen"/>: most far candidates are rejected from 64 values without reading the candidate's vector.
    /// </summary>
    public static float Cosine(ReadOnlySpan<float> values, float squaredNorm, ReadOnlySpan<float> projection, float projectionSquaredNorm, HomeRecord candidate, float screen)
    {
        var estimate = VectorMath.Cosine(VectorMath.Dot(projection, candidate.Projection), projectionSquaredNorm, candidate.ProjectionSquaredNorm);
        return estimate < screen ? float.NaN : VectorMath.Cosine(VectorMath.Dot(values, candidate.Values), squaredNorm, candidate.SquaredNorm);
    }

    /// <summary>Asks the processor to fetch <paramref name="candidate"/>'s projection (a hint; the screen reads it next).</summary>
    public static unsafe void Prefetch(HomeRecord candidate)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            return;
        }

        var projection = candidate.Projection;
        for (var i = 0; i < projection.Length; i += 16)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref projection[i]));
        }
    }
}
