using LshCluster.Core.Hashing;
using LshCluster.Protocol;
using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Engine;
using EngineVerdict = LshCluster.Silo.Engine.Verdict;
using WireVerdict = LshCluster.Protocol.V1.Verdict;

namespace LshCluster.Silo.Cluster;

/// <summary>Engine results and requests to and from their wire messages.</summary>
public static class ProtoMapping
{
    internal static HashedInsertRequest ToRequest(IEnumerable<HashedItem> items)
    {
        var request = new HashedInsertRequest();
        foreach (var item in items)
        {
            var v = new HashedVector
            {
                Index = item.Index,
                Id = item.ExternalId,
                SketchLow = item.Sketch.Low,
                SketchHigh = item.Sketch.High,
                SquaredNorm = item.SquaredNorm,
                Values = PackedArrays.From<float>(item.Values),
                Keys = PackedArrays.From<ulong>(item.Keys),
                ProbeKeys = PackedArrays.From<ulong>(item.ProbeKeys),
                Projection = PackedArrays.From<float>(item.Projection),
            };
            request.Vectors.Add(v);
        }

        return request;
    }

    /// <summary>A hashed vector from the wire (its values already copied out), or an error when its shape does not match the scheme.</summary>
    internal static (HashedItem? Item, Engine.ItemError? Error) FromWire(HashedVector v, float[] values, LshScheme scheme, int projectionLength)
    {
        var field = $"items[{v.Index}]";
        var probeCount = scheme.Probes > 1 ? scheme.Tables * scheme.Probes : 0;
        if (v.Keys.Length != scheme.Tables * sizeof(ulong) || v.ProbeKeys.Length != probeCount * sizeof(ulong)
            || v.Projection.Length != projectionLength * sizeof(float) || values.Length != scheme.Dimension)
        {
            return (null, new Engine.ItemError(field, "malformed", $"{field}: the hashed vector does not match the cluster's scheme (was it hashed with another scheme?)"));
        }

        // The norm is recomputed (cheap, and every cosine depends on it); the keys and sketch are the caller's word.
        return (new HashedItem(
            v.Index,
            v.Id,
            values,
            PackedArrays.ToArray<ulong>(v.Keys, $"{field}.keys"),
            PackedArrays.ToArray<ulong>(v.ProbeKeys, $"{field}.probe_keys"),
            new Sketch128(v.SketchLow, v.SketchHigh),
            PackedArrays.ToArray<float>(v.Projection, $"{field}.projection"),
            Core.Kernels.VectorMath.SquaredNorm(values)), null);
    }

    /// <summary>Engine results as a response, in item order.</summary>
    public static InsertResponse ToResponse(IEnumerable<Engine.InsertResult> results)
    {
        var response = new InsertResponse();
        foreach (var r in results.OrderBy(r => r.Index))
        {
            response.Results.Add(ToWire(r));
        }

        return response;
    }

    /// <summary>One engine result on the wire.</summary>
    public static Protocol.V1.InsertResult ToWire(Engine.InsertResult r)
    {
        var result = new Protocol.V1.InsertResult { Index = r.Index };
        if (r.Verdict is { } v)
        {
            result.Verdict = ToWire(v);
        }
        else if (r.Error is { } e)
        {
            result.Error = new Protocol.V1.ItemError { Field = e.Field, Code = e.Code, Message = e.Message };
        }

        return result;
    }

    /// <summary>An engine verdict on the wire.</summary>
    public static WireVerdict ToWire(EngineVerdict v) => new()
    {
        Id = v.ExternalId,
        VectorId = (ulong)v.VectorId,
        Kind = v.Kind == Engine.VerdictKind.Duplicate ? Protocol.V1.VerdictKind.Duplicate : Protocol.V1.VerdictKind.New,
        Rung = v.Rung ?? 0,
        ClusterId = (ulong)(v.ClusterId ?? 0),
        CanonicalId = v.Canonical ?? string.Empty,
        BestMatchId = v.BestMatch ?? string.Empty,
        BestCosine = v.BestCosine ?? 0,
        Repeated = v.Repeated,
    };

    /// <summary>A delete's outcome in its wire form.</summary>
    public static Protocol.V1.DeleteResult ToWire(Engine.DeleteResult r) => new()
    {
        Index = r.Index,
        Id = r.ExternalId,
        Deleted = r.Deleted,
        Error = r.Error is { } e ? new Protocol.V1.ItemError { Field = e.Field, Code = e.Code, Message = e.Message } : null,
    };

    /// <summary>A delete's outcome from the wire as the engine's type.</summary>
    public static Engine.DeleteResult ToResult(Protocol.V1.DeleteResult r) =>
        new(r.Index, r.Id, r.Deleted, r.Error is { } e ? new Engine.ItemError(e.Field, e.Code, e.Message) : null);

    /// <summary>A result from the wire as the engine's type.</summary>
    public static Engine.InsertResult ToResult(Protocol.V1.InsertResult r) => r.OutcomeCase switch
    {
        Protocol.V1.InsertResult.OutcomeOneofCase.Verdict => new Engine.InsertResult(r.Index, FromWire(r.Verdict), null),
        Protocol.V1.InsertResult.OutcomeOneofCase.Error => new Engine.InsertResult(r.Index, null, new Engine.ItemError(r.Error.Field, r.Error.Code, r.Error.Message)),
        _ => new Engine.InsertResult(r.Index, null, new Engine.ItemError($"items[{r.Index}]", "malformed", $"items[{r.Index}]: the silo sent a result without an outcome")),
    };

    /// <summary>A verdict from the wire as the engine's type.</summary>
    public static EngineVerdict FromWire(WireVerdict v)
    {
        var duplicate = v.Kind == Protocol.V1.VerdictKind.Duplicate;
        return new EngineVerdict(v.Id, (long)v.VectorId, duplicate ? Engine.VerdictKind.Duplicate : Engine.VerdictKind.New,
            duplicate ? v.Rung : null, duplicate ? (long)v.ClusterId : null, duplicate ? v.CanonicalId : null,
            duplicate ? v.BestMatchId : null, duplicate ? v.BestCosine : null, v.Repeated);
    }
}
