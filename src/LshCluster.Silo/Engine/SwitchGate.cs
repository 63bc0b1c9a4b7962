namespace LshCluster.Silo.Engine;

/// <summary>
/// Lets requests run beside each other, and one piece of work run alone: the embedded engine fixing its learned scheme
/// (ADR 0009) waits until no request is inside, keeps new ones waiting while it runs, then lets them all in.
/// </summary>
internal sealed class SwitchGate
{
    private readonly Lock _lock = new();
    private int _inside;
    private TaskCompletionSource? _closed; // while work runs alone (or waits to): newcomers wait for it
    private TaskCompletionSource? _drained; // the work waits for the requests inside

    /// <summary>Enters beside the other requests, after any work running alone; dispose the pass to leave.</summary>
    public async ValueTask<Pass> EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_closed is null)
                {
                    _inside++;
                    return new Pass(this);
                }

                wait = _closed.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="work"/> once every request inside has left, with new ones held back until it ends.</summary>
    public async Task RunAloneAsync(Func<Task> work)
    {
        Task drained;
        lock (_lock)
        {
            if (_closed is not null)
            {
                throw new InvalidOperationException("another piece of work is running alone");
            }

            _closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_inside == 0)
            {
                _drained.TrySetResult();
            }

            drained = _drained.Task;
        }

        try
        {
            await drained.ConfigureAwait(false);
            await work().ConfigureAwait(false);
        }
        finally
        {
            TaskCompletionSource closed;
            lock (_lock)
            {
                closed = _closed!;
                _closed = null;
                _drained = null;
            }

            closed.TrySetResult();
        }
    }

    private void Leave()
    {
        lock (_lock)
        {
            if (--_inside == 0)
            {
                _drained?.TrySetResult();
            }
        }
    }

    /// <summary>A request's way through the gate; the default pass is no pass (nothing to leave).</summary>
    internal readonly struct Pass(SwitchGate? gate) : IDisposable
    {
        /// <summary>Leaves the gate.</summary>
        public void Dispose() => gate?.Leave();
    }
}
