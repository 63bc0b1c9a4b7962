using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace LshCluster.Silo.Engine;

/// <summary>
/// Live recall (issue 16): a sample of the inserts is also matched exactly against every stored vector, in the
/// background, and each exact near-duplicate pair found at a rung is checked to be in one cluster at that rung. The
/// share of those pairs that are is the recall the cluster gives in production, on its own data; no peer reports it.
/// <para>
/// The work is bounded: samples wait in a short queue (when it is full, a sample is dropped), and after each the worker
/// rests long enough to use at most <see cref="DedupEngineOptions.RecallSampleBudget"/> of one core.
/// </para>
/// </summary>
internal sealed class RecallSampler : IAsyncDisposable
{
    private readonly Channel<(long Id, float[] Values)> _queue = Channel.CreateBounded<(long, float[])>(
        new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly float[] _rungs;
    private readonly DedupEngineOptions _options;
    private readonly Func<float[], float, Task<List<(long Id, float Cosine)>>> _neighbours;
    private readonly Func<long, int, Task<long>> _find;
    private readonly Accumulator[] _accumulators;
    private readonly bool[] _warned;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private readonly Random _random = new();

    /// <param name="rungs">The rungs, highest first.</param>
    /// <param name="options">The rate, the budget and where to warn.</param>
    /// <param name="neighbours">Every stored vector at or above a cosine to a vector (exact, all shards).</param>
    /// <param name="find">The root of a vector at a rung index.</param>
    public RecallSampler(float[] rungs, DedupEngineOptions options, Func<float[], float, Task<List<(long Id, float Cosine)>>> neighbours, Func<long, int, Task<long>> find)
    {
        (_rungs, _options, _neighbours, _find) = (rungs, options, neighbours, find);
        _accumulators = [.. rungs.Select(_ => new Accumulator())];
        _warned = new bool[rungs.Length];
        _worker = options.RecallSampleRate > 0 ? Task.Run(RunAsync) : Task.CompletedTask;
    }

    /// <summary>Samples, at the configured rate, one vector just stored (acknowledged).</summary>
    public void Offer(long id, float[] values)
    {
        var rate = _options.RecallSampleRate;
        if (rate > 0 && (rate >= 1 || Random() < rate))
        {
            _queue.Writer.TryWrite((id, values));
        }
    }

    /// <summary>The estimate at rung index <paramref name="rung"/>, or null before any sample was checked.</summary>
    public SampledRecall? Estimate(int rung) => _accumulators[rung].Estimate();

    /// <summary>Completes once every sample queued so far has been checked (for tests).</summary>
    internal async Task DrainAsync()
    {
        while (_queue.Reader.Count > 0 || Volatile.Read(ref _busy) != 0)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private int _busy;

    private double Random()
    {
        lock (_random)
        {
            return _random.NextDouble();
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                Volatile.Write(ref _busy, 1);
                while (_queue.Reader.TryRead(out var sample))
                {
                    var clock = Stopwatch.StartNew();
                    try
                    {
                        await CheckAsync(sample.Id, sample.Values).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // A shard away for a moment: this sample is lost, the estimate is not wrong for it.
                        _options.Log.LogDebug(e, "a recall sample could not be checked");
                    }

                    // Rest so that the checks take at most the budget's share of one core.
                    var budget = _options.RecallSampleBudget;
                    if (budget is > 0 and < 1)
                    {
                        await Task.Delay(clock.Elapsed * ((1 / budget) - 1), _options.Time, _stop.Token).ConfigureAwait(false);
                    }
                }

                Volatile.Write(ref _busy, 0);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private async Task CheckAsync(long id, float[] values)
    {
        var near = (await _neighbours(values, _rungs[^1]).ConfigureAwait(false)).Where(n => n.Id != id).ToList();
        for (var r = 0; r < _rungs.Length; r++)
        {
            var pairs = near.Where(n => n.Cosine >= _rungs[r]).ToList();
            var found = 0;
            if (pairs.Count > 0)
            {
                var root = await _find(id, r).ConfigureAwait(false);
                foreach (var n in pairs)
                {
                    found += await _find(n.Id, r).ConfigureAwait(false) == root ? 1 : 0;
                }
            }

            _accumulators[r].Add(pairs.Count, found);
            if (_accumulators[r].Estimate() is { Vectors: >= 20 } estimate && estimate.High < _options.RecallWarningBelow && !_warned[r])
            {
                _warned[r] = true;
                _options.Log.LogWarning(
                    "sampled recall at rung {Rung} is {Estimate:F4} (95% interval {Low:F4} … {High:F4}, {Vectors} vectors, {Pairs} pairs checked exactly), below {Expected}: near-duplicates are being missed; plan the hashing for a higher recall",
                    _rungs[r], estimate.Estimate, estimate.Low, estimate.High, estimate.Vectors, estimate.Pairs, _options.RecallWarningBelow);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>
    /// Sums over the samples of one rung. Each sampled vector brings its exact pairs (p) and how many of them are in one
    /// cluster (f); the estimate is Σf / Σp, a ratio estimator over the sampled vectors (a vector's pairs are not
    /// independent of each other, the vectors are).
    /// </summary>
    private sealed class Accumulator
    {
        private readonly Lock _gate = new();
        private long _n;
        private double _p;
        private double _f;
        private double _pp;
        private double _ff;
        private double _pf;

        public void Add(int pairs, int found)
        {
            lock (_gate)
            {
                _n++;
                (_p, _f) = (_p + pairs, _f + found);
                (_pp, _ff, _pf) = (_pp + ((double)pairs * pairs), _ff + ((double)found * found), _pf + ((double)pairs * found));
            }
        }

        public SampledRecall? Estimate()
        {
            lock (_gate)
            {
                if (_n == 0)
                {
                    return null;
                }

                if (_p == 0)
                {
                    return new SampledRecall(1, 0, 1, _n, 0);
                }

                // 95 % interval: the wider of the ratio estimator's (normal, from the spread over vectors) and Wilson's
                // over the pairs (which alone would be too narrow, and the ratio's alone empty when every pair is found).
                var r = _f / _p;
                var spread = _n < 2 ? double.PositiveInfinity : Math.Sqrt(Math.Max(0, _ff - (2 * r * _pf) + (r * r * _pp)) * _n / (_n - 1)) / _p;
                var (wilsonLow, wilsonHigh) = Wilson(_f, _p);
                return new SampledRecall(r, Math.Max(0, Math.Min(r - (1.96 * spread), wilsonLow)), Math.Min(1, Math.Max(r + (1.96 * spread), wilsonHigh)), _n, (long)_p);
            }
        }

        private static (double Low, double High) Wilson(double found, double pairs)
        {
            const double Z = 1.96;
            var p = found / pairs;
            var centre = p + (Z * Z / (2 * pairs));
            var margin = Z * Math.Sqrt((p * (1 - p) / pairs) + (Z * Z / (4 * pairs * pairs)));
            var scale = 1 + (Z * Z / pairs);
            return ((centre - margin) / scale, (centre + margin) / scale);
        }
    }
}

/// <summary>
/// The recall measured live at a rung: of the exact near-duplicate pairs of <see cref="Vectors"/> sampled inserts
/// (<see cref="Pairs"/> pairs, found by comparing each with every stored vector), the share in one cluster, with its 95 %
/// interval.
/// </summary>
public sealed record SampledRecall(double Estimate, double Low, double High, long Vectors, long Pairs);
