namespace LshCluster.Silo.Engine;

/// <summary>Settings of a <see cref="DedupEngine"/>, with production defaults.</summary>
public sealed class DedupEngineOptions
{
    /// <summary>
    /// Vectors of the insert batches one engine carries at once (on shard grains): a batch that would take it past this
    /// is refused as overloaded (<c>RESOURCE_EXHAUSTED</c>, HTTP 429) rather than queued without bound, unless it is the
    /// only one. 100,000 vectors of d = 784 hold about 300 MB.
    /// </summary>
    public int MaxVectorsInFlight { get; set; } = 100_000;

    /// <summary>How long a request may take before it is dropped (it then changes nothing).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most vectors in one insert batch.</summary>
    public int MaxBatchSize { get; set; } = 10_000;

    /// <summary>Longest external id, in characters.</summary>
    public int MaxExternalIdLength { get; set; } = 256;

    /// <summary>Most vectors gathered into one storage transaction (group commit).</summary>
    public int GroupCommitMaxVectors { get; set; } = 20_000;

    /// <summary>The name this process claims shards under.</summary>
    public string Owner { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>The clock (a fake one in tests).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Where the engine tells what it does on its own (a learning cluster fixing its scheme); nowhere by default.</summary>
    public Microsoft.Extensions.Logging.ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>
    /// The share of inserts also matched exactly against every stored vector, to measure the recall the cluster gives
    /// (<see cref="EngineStats"/>, the metric <c>lshcluster_sampled_recall</c>); 0 turns it off.
    /// </summary>
    public double RecallSampleRate { get; set; } = 0.001;

    /// <summary>The most of one core the recall samples may take (samples beyond it are dropped); 1: no limit.</summary>
    public double RecallSampleBudget { get; set; } = 0.05;

    /// <summary>A sampled recall whose whole interval lies below this is logged as a warning.</summary>
    public double RecallWarningBelow { get; set; } = 0.99;

    /// <summary>How long the change feed keeps a commit's events (ADR 0011); older ones are deleted now and then.</summary>
    public TimeSpan FeedRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        Require(MaxVectorsInFlight >= 1, nameof(MaxVectorsInFlight), "must be at least 1");
        Require(RequestTimeout > TimeSpan.Zero, nameof(RequestTimeout), "must be positive");
        Require(MaxBatchSize is >= 1 and <= 1_000_000, nameof(MaxBatchSize), "must be 1 … 1,000,000");
        Require(MaxExternalIdLength is >= 1 and <= 4096, nameof(MaxExternalIdLength), "must be 1 … 4096");
        Require(GroupCommitMaxVectors >= 1, nameof(GroupCommitMaxVectors), "must be at least 1");
        Require(!string.IsNullOrWhiteSpace(Owner), nameof(Owner), "must not be empty");
        Require(RecallSampleRate is >= 0 and <= 1, nameof(RecallSampleRate), "must be 0 … 1");
        Require(RecallSampleBudget is > 0 and <= 1, nameof(RecallSampleBudget), "must be more than 0 and at most 1");
        Require(RecallWarningBelow is >= 0 and <= 1, nameof(RecallWarningBelow), "must be 0 … 1");
        Require(FeedRetention > TimeSpan.Zero, nameof(FeedRetention), "must be positive");
    }

    private static void Require(bool condition, string name, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"{name} {message}", name);
        }
    }
}
