using System.Globalization;
using Portico.Contracts.Events;

namespace Portico.Gateway.Jobs;

/// <summary>What the sweeper does after it moved a job.</summary>
internal enum SweepAction
{
    None,

    /// <summary>Send the job's current attempt to its in-queue.</summary>
    Send,

    /// <summary>The job ran out of attempts: record it in the dead-letter list (in the same transaction).</summary>
    DeadLetter,
}

/// <summary>
/// The job state machine, as pure functions of the stored job and the time. Status drives retry: an attempt that
/// failed, a worker that stopped sending heartbeats, or a request no worker started in time all lead to the next
/// attempt after a growing delay, until the job's attempts are used up; then it fails and is dead-lettered.
/// A final job never changes again, whatever arrives later.
/// </summary>
internal static class JobTransitions
{
    /// <summary>A worker has the job: it is running, and its lease runs from now.</summary>
    public static JobState? Heartbeat(JobState job, JobHeartbeat beat, DateTimeOffset now)
    {
        if (job.IsFinal)
        {
            return null;
        }
        if (job.Status == JobStatuses.Queued && beat.Attempt < job.Attempt)
        {
            // A worker of an earlier attempt, after that attempt was given up: the next one is on its way; if this
            // worker finishes first anyway, its success is taken.
            return null;
        }
        return job with
        {
            Status = JobStatuses.Running,
            Sent = true,
            StartedAt = job.StartedAt ?? now,
            HeartbeatAt = now,
            Worker = beat.Worker,
            Due = now + job.Lease,
            UpdatedAt = now,
        };
    }

    /// <summary>An attempt ended. A success from any attempt finishes a live job; a failure counts only for the current attempt.</summary>
    public static (JobState? Next, SweepAction Action) Completed(JobState job, JobCompleted done, DateTimeOffset now, JobsOptions options)
    {
        if (job.IsFinal)
        {
            return (null, SweepAction.None);
        }
        if (done.Succeeded)
        {
            return (job with
            {
                Status = JobStatuses.Succeeded,
                Result = done.Result?.GetRawText() ?? "null",
                Error = null,
                Worker = done.Worker,
                StartedAt = job.StartedAt ?? now,
                FinishedAt = now,
                UpdatedAt = now,
            }, SweepAction.None);
        }
        if (done.Attempt < job.Attempt)
        {
            return (null, SweepAction.None);
        }
        var error = string.IsNullOrWhiteSpace(done.Error) ? "The worker reported a failure without a reason." : done.Error;
        if (!done.Retryable)
        {
            return (Fail(job, error, now), SweepAction.None);
        }
        return NextAttempt(job, error, now, options);
    }

    /// <summary>What the sweeper does with a live job whose time is up.</summary>
    public static (JobState? Next, SweepAction Action) Sweep(JobState job, DateTimeOffset now, JobsOptions options)
    {
        if (job.IsFinal || job.Due > now)
        {
            return (null, SweepAction.None);
        }
        if (job.Status == JobStatuses.Queued && !job.Sent)
        {
            return (job with { Sent = true, Due = now + options.QueueTimeout, UpdatedAt = now }, SweepAction.Send);
        }
        var reason = job.Status == JobStatuses.Queued
            ? string.Create(CultureInfo.InvariantCulture, $"No worker started attempt {job.Attempt} within {options.QueueTimeout}.")
            : string.Create(CultureInfo.InvariantCulture, $"The worker of attempt {job.Attempt} sent no heartbeat within the lease of {job.Lease}.");
        return NextAttempt(job, reason, now, options);
    }

    /// <summary>A client cancels: only a queued job can be (a running one is a worker's, a final one is done).</summary>
    public static JobState? Cancel(JobState job, DateTimeOffset now) =>
        job.Status == JobStatuses.Queued
            ? job with { Status = JobStatuses.Cancelled, Error = "Cancelled by its owner.", FinishedAt = now, UpdatedAt = now }
            : null;

    /// <summary>The request could not be handed to the broker: the sweeper sends it again after the first retry delay.</summary>
    public static JobState? SendFailed(JobState job, int attempt, string error, DateTimeOffset now, JobsOptions options) =>
        job.Status == JobStatuses.Queued && job.Attempt == attempt && job.Sent
            ? job with { Sent = false, Due = now + options.RetryInitialDelay, Error = error, UpdatedAt = now }
            : null;

    private static (JobState Next, SweepAction Action) NextAttempt(JobState job, string reason, DateTimeOffset now, JobsOptions options)
    {
        if (job.Attempt >= job.MaxAttempts)
        {
            return (Fail(job, string.Create(CultureInfo.InvariantCulture, $"{reason} No attempts left ({job.Attempt} of {job.MaxAttempts})."), now), SweepAction.DeadLetter);
        }
        return (job with
        {
            Status = JobStatuses.Queued,
            Attempt = job.Attempt + 1,
            Sent = false,
            Due = now + options.RetryDelay(job.Attempt),
            Error = reason,
            Worker = null,
            UpdatedAt = now,
        }, SweepAction.None);
    }

    private static JobState Fail(JobState job, string error, DateTimeOffset now) =>
        job with { Status = JobStatuses.Failed, Error = error, FinishedAt = now, UpdatedAt = now };
}
