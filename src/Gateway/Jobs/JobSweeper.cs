using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Jobs;

/// <summary>
/// Sends jobs again from their stored status. Every <c>SweepInterval</c> (on the jobs clock) the gateway instance that
/// holds the sweeper's lease in the store takes the live jobs whose time is up and moves each on: a retry whose delay is
/// over is sent; a running job whose worker sent no heartbeat within its lease, or a request no worker started within
/// <c>QueueTimeout</c>, goes to its next attempt after a growing delay, or fails and is dead-lettered when none is left.
/// Each move is a conditional write of the job, so a result arriving at the same moment wins or loses cleanly.
/// </summary>
internal sealed partial class JobSweeper(
    JobStore store, JobSender sender, JobsClock clock, IOptions<JobsOptions> options, JobMetrics metrics, ILogger<JobSweeper> logger) : BackgroundService
{
    private const int BatchSize = 500;

    private readonly string _instance = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        using var timer = new PeriodicTimer(o.SweepInterval, clock.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (await store.HoldSweeperLeaseAsync(_instance, o.SweepLease))
                    {
                        await SweepAsync(stoppingToken);
                    }
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // The store is away: nothing is lost, the jobs wait in it for the next sweep.
                    Log.SweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over the jobs whose time is up; returns how many were moved.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var moved = 0;
        foreach (var id in await store.DueAsync(clock.Now, BatchSize))
        {
            var action = SweepAction.None;
            var (before, after) = await store.UpdateAsync(
                id,
                job =>
                {
                    (var next, action) = JobTransitions.Sweep(job, clock.Now, options.Value);
                    return next;
                },
                (transaction, job) =>
                {
                    if (action == SweepAction.DeadLetter)
                    {
                        store.DeadLetter(transaction, job);
                    }
                });
            if (before is null)
            {
                await store.ForgetAsync(id);
                continue;
            }
            if (after is null)
            {
                continue;
            }
            moved++;
            if (action == SweepAction.Send)
            {
                metrics.SentAgain(after.Job);
                Log.Sending(logger, after.Id, after.Attempt, after.MaxAttempts);
                await sender.SendAsync(after, cancellationToken);
            }
            else if (after.IsFinal)
            {
                metrics.Finished(after.Job, after.Status);
                Log.DeadLettered(logger, after.Id, after.Attempt, after.Error);
            }
            else
            {
                Log.Rescheduled(logger, after.Id, after.Attempt, after.Due, after.Error);
            }
        }
        return moved;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await store.ReleaseSweeperLeaseAsync(_instance);
        }
        catch (Exception e)
        {
            Log.LeaseNotReleased(logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Sweeping jobs failed; trying again on the next sweep")]
        public static partial void SweepFailed(ILogger logger, Exception exception);

        [LoggerMessage(2, LogLevel.Information, "Sending job {JobId} attempt {Attempt} of {MaxAttempts}")]
        public static partial void Sending(ILogger logger, Guid jobId, int attempt, int maxAttempts);

        [LoggerMessage(3, LogLevel.Error, "Job {JobId} failed after {Attempts} attempt(s) and was dead-lettered: {Error}")]
        public static partial void DeadLettered(ILogger logger, Guid jobId, int attempts, string? error);

        [LoggerMessage(4, LogLevel.Warning, "Job {JobId} goes to attempt {Attempt} at {Due}: {Error}")]
        public static partial void Rescheduled(ILogger logger, Guid jobId, int attempt, DateTimeOffset due, string? error);

        [LoggerMessage(5, LogLevel.Debug, "The sweeper's lease could not be released; it expires by itself")]
        public static partial void LeaseNotReleased(ILogger logger, Exception exception);
    }
}
