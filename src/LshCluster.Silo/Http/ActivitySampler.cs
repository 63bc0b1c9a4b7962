namespace LshCluster.Silo.Http;

/// <summary>
/// Cluster-wide counts (vectors stored, duplicate verdicts) sampled every few seconds over the last minutes, so that
/// the dashboard shows ingest and duplicate rates from the moment it opens (<c>GET /v1/activity</c>).
/// </summary>
public sealed class ActivitySampler : IAsyncDisposable
{
    private readonly IEngineHost _host;
    private readonly Queue<ActivitySample> _samples = new();
    private readonly int _capacity;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>Starts sampling <paramref name="host"/> every <paramref name="interval"/>, keeping <paramref name="window"/>.</summary>
    public ActivitySampler(IEngineHost host, TimeSpan interval, TimeSpan window)
    {
        _host = host;
        Interval = interval;
        _capacity = Math.Max(2, (int)(window / interval));
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Time between samples.</summary>
    public TimeSpan Interval { get; }

    /// <summary>The samples kept, oldest first.</summary>
    public IReadOnlyList<ActivitySample> Samples
    {
        get
        {
            lock (_samples)
            {
                return [.. _samples];
            }
        }
    }

    /// <summary>Stops sampling.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                if (_host.IsServing)
                {
                    var (vectors, duplicates) = await _host.ServingEngine().GetCountsAsync().ConfigureAwait(false);
                    lock (_samples)
                    {
                        _samples.Enqueue(new ActivitySample(DateTimeOffset.UtcNow, vectors, duplicates));
                        while (_samples.Count > _capacity)
                        {
                            _samples.Dequeue();
                        }
                    }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A gap in the chart (shards moving, database restarting) rather than a dead sampler.
            }
        }
        while (await WaitAsync(timer).ConfigureAwait(false));
    }

    private async Task<bool> WaitAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>Cluster-wide counts at one moment.</summary>
public sealed record ActivitySample(DateTimeOffset Time, long Vectors, long Duplicates);
