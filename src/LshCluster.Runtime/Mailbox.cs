using System.Threading.Channels;

namespace LshCluster.Runtime;

/// <summary>
/// The single mailbox of one actor activation: turns run one at a time, in arrival order, on the thread pool.
/// A turn is a synchronous function of the actor's state, so an actor never awaits another inside a turn (the
/// Orleans rule that makes call cycles deadlock-free). The mailbox is bounded: a full mailbox refuses with
/// <see cref="OverloadedException"/> so that producers slow down instead of the process running out of memory.
/// </summary>
public sealed class Mailbox : IAsyncDisposable
{
    private readonly Channel<Turn> _channel;
    private readonly TimeProvider _time;
    private readonly Task _loop;
    private int _depth;
    private volatile bool _closed;

    /// <summary>Starts the mailbox of actor <paramref name="name"/>.</summary>
    /// <param name="name">Used in error messages, e.g. "shard 17".</param>
    /// <param name="capacity">Most messages waiting; 1 … 1,000,000.</param>
    /// <param name="time">The clock deadlines are judged by.</param>
    public Mailbox(string name, int capacity, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1_000_000);
        Name = name;
        Capacity = capacity;
        _time = time;
        _channel = Channel.CreateBounded<Turn>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The actor's name, as used in errors.</summary>
    public string Name { get; }

    /// <summary>The most messages that may wait.</summary>
    public int Capacity { get; }

    /// <summary>Messages waiting now (a gauge for metrics).</summary>
    public int Depth => Volatile.Read(ref _depth);

    /// <summary>
    /// Queues <paramref name="turn"/> and returns its result once it has run. A turn whose deadline has passed
    /// when its turn comes is dropped, not run, and its task fails with <see cref="DeadlineExceededException"/>.
    /// </summary>
    /// <exception cref="OverloadedException">The mailbox is full (thrown synchronously; nothing was queued).</exception>
    /// <exception cref="ObjectDisposedException">The mailbox is shut down.</exception>
    public Task<T> Post<T>(Func<T> turn, DateTimeOffset deadline)
    {
        var item = new Turn<T>(turn, deadline);
        Interlocked.Increment(ref _depth);
        if (!_channel.Writer.TryWrite(item))
        {
            Interlocked.Decrement(ref _depth);
            if (_closed)
            {
                throw new ObjectDisposedException(Name, $"{Name} is shut down");
            }

            throw new OverloadedException(Name, Capacity);
        }

        return item.Task;
    }

    /// <summary>
    /// Queues <paramref name="turn"/>, waiting for room when the mailbox is full, and returns its result once it has
    /// run. For the messages a request sends after its first one was accepted: failing them would waste the work
    /// already done, and waiting cannot deadlock because turns never wait for other actors.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The mailbox is shut down.</exception>
    public async Task<T> SendAsync<T>(Func<T> turn, DateTimeOffset deadline, CancellationToken cancellationToken = default)
    {
        var item = new Turn<T>(turn, deadline);
        Interlocked.Increment(ref _depth);
        try
        {
            await _channel.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            Interlocked.Decrement(ref _depth);
            if (e is OperationCanceledException)
            {
                throw;
            }

            throw new ObjectDisposedException(Name, $"{Name} is shut down");
        }

        return await item.Task.ConfigureAwait(false);
    }

    /// <summary>Stops taking messages, lets the queued ones run, and waits for the loop to end.</summary>
    public async ValueTask DisposeAsync()
    {
        _closed = true;
        _channel.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var turn))
            {
                Interlocked.Decrement(ref _depth);
                turn.Run(_time.GetUtcNow(), Name);
            }
        }
    }

    private abstract class Turn
    {
        public abstract void Run(DateTimeOffset now, string actor);
    }

    private sealed class Turn<T>(Func<T> work, DateTimeOffset deadline) : Turn
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _completion.Task;

        public override void Run(DateTimeOffset now, string actor)
        {
            if (now > deadline)
            {
                _completion.SetException(new DeadlineExceededException(actor, deadline));
                return;
            }

            try
            {
                _completion.SetResult(work());
            }
            catch (Exception e)
            {
                _completion.SetException(e);
            }
        }
    }
}
