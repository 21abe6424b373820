using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Contracts.Events;
using Portico.Messaging;

namespace Portico.Gateway.Jobs;

/// <summary>The clock of the jobs feature: the keyed <see cref="JobsOptions.ClockKey"/> one if registered, else the host's.</summary>
internal sealed class JobsClock(TimeProvider time)
{
    public TimeProvider Time { get; } = time;

    public DateTimeOffset Now => Time.GetUtcNow();
}

/// <summary>
/// Hands a job's current attempt to its in-queue. When the broker cannot take it, the job is put back to be sent by
/// the sweeper: the request was accepted and stays in the store, so nothing is lost while the broker is away.
/// </summary>
internal sealed partial class JobSender(IMessageBus bus, JobStore store, JobsClock clock, IOptions<JobsOptions> options, ILogger<JobSender> logger)
{
    public async Task<bool> SendAsync(JobState job, CancellationToken cancellationToken)
    {
        try
        {
            using var parameters = JsonDocument.Parse(job.Parameters);
            var request = new JobRequested(job.Id, job.Job, job.Attempt, job.Owner, job.Roles, parameters.RootElement.Clone(),
                job.OutQueue, job.Lease / 3, clock.Now);
            await bus.SendAsync(job.InQueue, request, new MessageProperties { CorrelationId = job.Id.ToString("D"), PartitionKey = job.Id.ToString("D") }, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.SendFailed(logger, e, job.Id, job.Attempt, job.InQueue);
            var error = $"Attempt {job.Attempt} could not be handed to the broker: {e.Message}";
            try
            {
                await store.UpdateAsync(job.Id, j => JobTransitions.SendFailed(j, job.Attempt, error, clock.Now, options.Value));
            }
            catch (Exception storeError)
            {
                // The store is away too: the job stays "sent" and the sweeper sends it again after QueueTimeout.
                Log.SendFailureNotRecorded(logger, storeError, job.Id);
            }
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Job {JobId} attempt {Attempt} could not be sent to {Queue}; the sweeper sends it again")]
        public static partial void SendFailed(ILogger logger, Exception exception, Guid jobId, int attempt, string queue);

        [LoggerMessage(2, LogLevel.Warning, "Job {JobId}: the failed send could not be recorded; it is sent again once its queue time is up")]
        public static partial void SendFailureNotRecorded(ILogger logger, Exception exception, Guid jobId);
    }
}
