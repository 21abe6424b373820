using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Contracts.Events;
using Portico.Messaging;

namespace Portico.Gateway.Jobs;

/// <summary>A worker's heartbeat on a job's out-queue: the job is running, and its lease starts again.</summary>
internal sealed partial class JobHeartbeatHandler(JobStore store, JobsClock clock, JobMetrics metrics, ILogger<JobHeartbeatHandler> logger)
    : IMessageHandler<JobHeartbeat>
{
    public async Task HandleAsync(JobHeartbeat message, MessageContext context, CancellationToken cancellationToken)
    {
        var (before, after) = await store.UpdateAsync(message.JobId, job => JobTransitions.Heartbeat(job, message, clock.Now));
        if (before is null)
        {
            Log.UnknownJob(logger, message.JobId, context.Queue);
        }
        else if (after is null)
        {
            metrics.Ignored(before.Job);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Heartbeat for job {JobId} on {Queue}, which the store does not have (expired or never made); ignored")]
        public static partial void UnknownJob(ILogger logger, Guid jobId, string queue);
    }
}

/// <summary>
/// The end of an attempt on a job's out-queue. The job's stored status decides: a success finishes a live job once; a
/// failure of the current attempt schedules the next one (the sweeper sends it) or, with no attempts left, fails the job
/// and dead-letters it. Anything arriving for a final job — a repeated result, a late one — changes nothing.
/// </summary>
internal sealed partial class JobCompletedHandler(JobStore store, JobsClock clock, IOptions<JobsOptions> options, JobMetrics metrics, ILogger<JobCompletedHandler> logger)
    : IMessageHandler<JobCompleted>
{
    public async Task HandleAsync(JobCompleted message, MessageContext context, CancellationToken cancellationToken)
    {
        var action = SweepAction.None;
        var (before, after) = await store.UpdateAsync(
            message.JobId,
            job =>
            {
                (var next, action) = JobTransitions.Completed(job, message, clock.Now, options.Value);
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
            Log.UnknownJob(logger, message.JobId, context.Queue);
            return;
        }
        if (after is null)
        {
            metrics.Ignored(before.Job);
            Log.Ignored(logger, message.JobId, message.Attempt, before.Status);
            return;
        }
        if (after.IsFinal)
        {
            metrics.Finished(after.Job, after.Status);
            Log.Finished(logger, after.Id, after.Status, after.Attempt);
        }
        else
        {
            Log.AttemptFailed(logger, after.Id, message.Attempt, after.Due, message.Error);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Result for job {JobId} on {Queue}, which the store does not have (expired or never made); ignored")]
        public static partial void UnknownJob(ILogger logger, Guid jobId, string queue);

        [LoggerMessage(2, LogLevel.Information, "Result of job {JobId} attempt {Attempt} changed nothing: the job is {Status}")]
        public static partial void Ignored(ILogger logger, Guid jobId, int attempt, string status);

        [LoggerMessage(3, LogLevel.Information, "Job {JobId} {Status} after {Attempts} attempt(s)")]
        public static partial void Finished(ILogger logger, Guid jobId, string status, int attempts);

        [LoggerMessage(4, LogLevel.Warning, "Job {JobId} attempt {Attempt} failed; the next is sent at {Due}: {Error}")]
        public static partial void AttemptFailed(ILogger logger, Guid jobId, int attempt, DateTimeOffset due, string? error);
    }
}
