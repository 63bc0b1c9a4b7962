using Spectre.Console;

namespace LshCluster.Cli.IO;

/// <summary>
/// Progress display for anything that takes more than a second: a Spectre.Console bar (or spinner when the total is
/// unknown) on an interactive terminal, nothing when the output is redirected — scripts read stdout, and bars would
/// only garble it.
/// </summary>
internal static class Progress
{
    private static bool Interactive => !Console.IsOutputRedirected && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="work"/>, which reports how many units it has done through the callback.</summary>
    /// <param name="title">What is being done, e.g. "ingesting".</param>
    /// <param name="total">Units expected, or null when unknown.</param>
    /// <param name="work">The work; call the callback with the units just finished.</param>
    public static async Task<T> RunAsync<T>(string title, long? total, Func<Action<long>, Task<T>> work)
    {
        if (!Interactive)
        {
            return await work(_ => { });
        }

        return await AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(title, maxValue: total ?? 1);
                task.IsIndeterminate = total is null;
                var done = 0L;
                var result = await work(n =>
                {
                    done += n;
                    if (total is null)
                    {
                        task.Description = $"{title} ({done:N0})";
                    }
                    else
                    {
                        task.Increment(n);
                    }
                });
                task.Value = task.MaxValue;
                return result;
            });
    }

    /// <summary>Runs <paramref name="work"/> under a spinner with <paramref name="title"/>.</summary>
    public static async Task<T> SpinAsync<T>(string title, Func<Task<T>> work) =>
        Interactive ? await AnsiConsole.Status().StartAsync(title, _ => work()) : await work();
}
