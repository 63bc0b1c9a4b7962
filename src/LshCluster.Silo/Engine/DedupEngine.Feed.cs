using System.Runtime.CompilerServices;
using LshCluster.Storage;
using Microsoft.Extensions.Logging;

namespace LshCluster.Silo.Engine;

/// <summary>The change feed (ADR 0011): every acknowledged verdict, merge and deletion, in commit order, by cursor.</summary>
public sealed partial class DedupEngine
{
    /// <summary>
    /// Deletes the feed's commits older than <see cref="DedupEngineOptions.FeedRetention"/>, at start and then every tenth
    /// of it (at most hourly). Every silo does it: the deletion is the same whoever runs it.
    /// </summary>
    private async Task PruneFeedAsync()
    {
        var retention = _options.FeedRetention;
        var every = TimeSpan.FromTicks(Math.Min(retention.Ticks / 10, TimeSpan.FromHours(1).Ticks));
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await _store.PruneFeedAsync(_options.Time.GetUtcNow() - retention, _stopping.Token).ConfigureAwait(false);
                await Task.Delay(every, _options.Time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The store away for a moment: the next round deletes what this one did not.
                _options.Log.LogDebug(e, "the feed's old commits could not be deleted now");
                await Task.Delay(every, _options.Time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>How often a reader at the end of the feed looks for new commits.</summary>
    internal static readonly TimeSpan FeedPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The events after <paramref name="after"/> (0: from the oldest kept), each with its cursor, as they are committed:
    /// the enumeration waits at the end of the feed for more until cancelled. A consumer keeps the cursor of the last
    /// event it handled and resumes after it: it misses nothing and sees nothing twice, whichever silo serves it.
    /// </summary>
    /// <exception cref="FeedCursorExpiredException">The events after the cursor are older than the feed keeps.</exception>
    public async IAsyncEnumerable<FeedEntry> WatchAsync(long after, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(after);
        if (after > 0 && await _store.FeedStartAsync(cancellationToken).ConfigureAwait(false) is var start && FeedBatch.PositionOf(after) < start)
        {
            throw new FeedCursorExpiredException(
                $"after: cursor {after} is in commit {FeedBatch.PositionOf(after)}, which the feed no longer keeps (it keeps commits from {start} on, cursor {FeedBatch.Cursor(start, 0)}): events were dropped by retention; start again from 0 (the oldest kept) and reconcile");
        }

        var last = after;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var position = Math.Max(0, FeedBatch.PositionOf(last) - (last > 0 ? 1 : 0));
            var batches = await _store.ReadFeedAsync(position, 64, cancellationToken).ConfigureAwait(false);
            var any = false;
            foreach (var batch in batches)
            {
                for (var i = 0; i < batch.Events.Count; i++)
                {
                    var cursor = FeedBatch.Cursor(batch.Position, i);
                    if (cursor > last)
                    {
                        any = true;
                        last = cursor;
                        yield return new FeedEntry(cursor, batch.At, batch.Events[i]);
                    }
                }
            }

            if (!any)
            {
                await Task.Delay(FeedPollInterval, _options.Time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>An event of the change feed with its cursor and commit time.</summary>
/// <param name="Cursor">Where it is in the feed: resume after it.</param>
/// <param name="At">When its commit was written.</param>
/// <param name="Event">What happened.</param>
public sealed record FeedEntry(long Cursor, DateTimeOffset At, FeedEvent Event);

/// <summary>A feed cursor older than the feed keeps (retention dropped the events after it).</summary>
public sealed class FeedCursorExpiredException(string message) : Exception(message);
