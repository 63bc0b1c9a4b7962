namespace LshCluster.Runtime.Tests;

public sealed class MailboxTests
{
    private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddMinutes(5);

    [Fact]
    public async Task Turns_run_one_at_a_time_in_arrival_order()
    {
        await using var mailbox = new Mailbox("actor", 10_000, TimeProvider.System);
        var running = 0;
        var overlaps = 0;
        var order = new List<int>();

        await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => mailbox.Post(() =>
        {
            if (Interlocked.Increment(ref running) > 1)
            {
                overlaps++;
            }

            order.Add(i);
            Interlocked.Decrement(ref running);
            return i;
        }, Later)));

        Assert.Equal(0, overlaps);
        Assert.Equal(Enumerable.Range(0, 2000), order);
    }

    [Fact]
    public async Task A_full_mailbox_refuses_with_a_typed_overload_error_and_queues_nothing()
    {
        await using var mailbox = new Mailbox("shard 7", 2, TimeProvider.System);
        using var gate = new ManualResetEventSlim();
        var blocker = mailbox.Post(() => gate.Wait(TimeSpan.FromMinutes(1)), Later);
        await WaitUntilAsync(() => mailbox.Depth == 0);
        var queued = new[] { mailbox.Post(() => 1, Later), mailbox.Post(() => 2, Later) };
        var ran = false;

        OverloadedException? error = null;
        try
        {
            _ = mailbox.Post(() => ran = true, Later);
        }
        catch (OverloadedException e)
        {
            // Thrown synchronously by Post itself: the refusal is immediate, nothing is queued.
            error = e;
        }

        Assert.NotNull(error);
        gate.Set();
        await Task.WhenAll(queued);

        Assert.Equal("shard 7", error.Actor);
        Assert.Contains("nothing was changed", error.Message, StringComparison.Ordinal);
        Assert.False(ran);
        await blocker;
    }

    [Fact]
    public async Task SendAsync_waits_for_room_instead_of_refusing()
    {
        await using var mailbox = new Mailbox("actor", 1, TimeProvider.System);
        using var gate = new ManualResetEventSlim();
        var blocker = mailbox.Post(() => gate.Wait(TimeSpan.FromMinutes(1)), Later);
        await WaitUntilAsync(() => mailbox.Depth == 0);
        var first = mailbox.Post(() => 1, Later);

        var second = mailbox.SendAsync(() => 2, Later);
        Assert.False(second.IsCompleted);
        gate.Set();

        Assert.Equal(2, await second);
        Assert.Equal(1, await first);
        await blocker;
    }

    [Fact]
    public async Task A_request_whose_deadline_passed_while_queued_is_dropped_without_running()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        await using var mailbox = new Mailbox("actor", 10, clock);
        using var gate = new ManualResetEventSlim();
        var blocker = mailbox.Post(() => gate.Wait(TimeSpan.FromMinutes(1)), DateTimeOffset.UnixEpoch.AddSeconds(10));
        var ran = false;
        var late = mailbox.Post(() => ran = true, DateTimeOffset.UnixEpoch.AddSeconds(1));

        clock.Now = DateTimeOffset.UnixEpoch.AddSeconds(2);
        gate.Set();

        await Assert.ThrowsAsync<DeadlineExceededException>(() => late);
        Assert.False(ran);
        await blocker;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Yield();
            Thread.SpinWait(1000);
        }

        Assert.True(condition());
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
