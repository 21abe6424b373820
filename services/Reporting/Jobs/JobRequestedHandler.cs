using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Portico.Contracts.Events;
using Portico.Data;
using Portico.Messaging;
using Portico.Reporting.Infrastructure;
using Portico.Reporting.Model;

namespace Portico.Reporting.Jobs;

/// <summary>This process as a job worker: its name in claims and heartbeats.</summary>
internal sealed class ReportingWorker
{
    public string Id { get; } = $"reporting-{Environment.ProcessId}-{Guid.NewGuid():N}";
}

/// <summary>
/// Runs a job attempt from a job in-queue and answers on its out-queue. A job is computed once: a job already computed
/// gets its stored result again; a job another live worker has claimed is left to it; otherwise this worker claims it,
/// says so with a heartbeat (the gateway marks it <c>running</c>), keeps the heartbeat and its claim going while it
/// builds the report, and stores the result with the claim released in one transaction before answering. Failures are
/// answered, not retried here: the gateway's stored status decides whether another attempt comes.
/// </summary>
internal sealed partial class JobRequestedHandler(
    ReportingDbContext db, IEnumerable<IJobReport> reports, IMessageBus bus, IServiceScopeFactory scopes, ReportingWorker worker,
    TimeProvider time, ILogger<JobRequestedHandler> logger) : IMessageHandler<JobRequested>
{
    public async Task HandleAsync(JobRequested message, MessageContext context, CancellationToken cancellationToken)
    {
        var report = reports.FirstOrDefault(r => ReportingJobQueues.In(r.Queue) == context.Queue)
            ?? throw new InvalidOperationException($"No report is built from queue '{context.Queue}'.");
        var heartbeat = message.HeartbeatInterval > TimeSpan.Zero ? message.HeartbeatInterval : TimeSpan.FromSeconds(10);
        var lease = heartbeat * 3;

        for (var look = 1; ; look++)
        {
            if (await db.JobRuns.AsNoTracking().FirstOrDefaultAsync(r => r.JobId == message.JobId, cancellationToken) is { } done)
            {
                Log.AlreadyComputed(logger, message.JobId, message.Attempt);
                await ReplyAsync(message, true, done.Result, null, retryable: false, cancellationToken);
                return;
            }
            if (await TryClaimAsync(message.JobId, lease, cancellationToken))
            {
                break;
            }
            var holder = await db.JobClaims.AsNoTracking().FirstOrDefaultAsync(c => c.JobId == message.JobId, cancellationToken);
            var left = holder is null ? TimeSpan.Zero : holder.Until - time.GetUtcNow();
            if (look > 1 || holder?.Worker == worker.Id || left > lease)
            {
                // A live worker (this one, or one that kept renewing) is on it: it answers. Should it die, its claim
                // lapses and the gateway's next attempt finds the job free.
                Log.ClaimedElsewhere(logger, message.JobId, message.Attempt);
                return;
            }
            // Held by another worker that may be gone (a redelivery after a crash meets its claim): look again once
            // the claim would have lapsed without renewal.
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left + TimeSpan.FromMilliseconds(50), time, cancellationToken);
            }
        }

        try
        {
            await SendHeartbeatAsync(message, cancellationToken);
        }
        catch
        {
            // The broker is away: let the claim go, so the retried delivery (or the gateway's next attempt) can take it.
            await ReleaseClaimAsync(message.JobId, CancellationToken.None);
            throw;
        }
        using var beating = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeats = KeepBeatingAsync(message, heartbeat, lease, beating.Token);
        JsonElement result;
        try
        {
            result = await report.BuildAsync(message, cancellationToken);
        }
        catch (JobRequestException e)
        {
            await StopAsync(beating, heartbeats);
            await ReleaseClaimAsync(message.JobId, cancellationToken);
            Log.Refused(logger, message.JobId, e.Message);
            await ReplyAsync(message, false, null, e.Message, retryable: false, cancellationToken);
            return;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            await StopAsync(beating, heartbeats);
            await ReleaseClaimAsync(message.JobId, cancellationToken);
            Log.Failed(logger, e, message.JobId, message.Attempt);
            await ReplyAsync(message, false, null, $"{e.GetType().Name}: {e.Message}", retryable: true, cancellationToken);
            return;
        }
        catch
        {
            // Shutting down: no answer; the claim lapses and the job comes back as the gateway's next attempt.
            await StopAsync(beating, heartbeats);
            throw;
        }
        await StopAsync(beating, heartbeats);

        var stored = await RecordAsync(message, context, result.GetRawText(), cancellationToken);
        await ReplyAsync(message, true, stored, null, retryable: false, cancellationToken);
    }

    /// <summary>Stores the result and drops the claim together; if a result is there already, that one is the result.</summary>
    private async Task<string> RecordAsync(JobRequested message, MessageContext context, string result, CancellationToken cancellationToken)
    {
        db.JobRuns.Add(new JobRun
        {
            JobId = message.JobId, Queue = context.Queue, Attempt = message.Attempt, Worker = worker.Id, Result = result, ComputedAt = time.GetUtcNow(),
        });
        if (await db.JobClaims.FirstOrDefaultAsync(c => c.JobId == message.JobId && c.Worker == worker.Id, cancellationToken) is { } claim)
        {
            db.JobClaims.Remove(claim);
        }
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            Log.Computed(logger, message.JobId, message.Attempt);
            return result;
        }
        catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
        {
            db.ChangeTracker.Clear();
            var first = await db.JobRuns.AsNoTracking().SingleAsync(r => r.JobId == message.JobId, cancellationToken);
            return first.Result;
        }
    }

    private async Task<bool> TryClaimAsync(Guid jobId, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var until = now + lease;
        var me = worker.Id;
        // A lapsed claim (its worker died) is taken over in one conditional update. A live one is never taken, not
        // even this worker's own: two deliveries of one job on one worker must not both build it.
        if (await db.JobClaims.Where(c => c.JobId == jobId && c.Until <= now)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.Worker, me).SetProperty(c => c.Until, until), cancellationToken) == 1)
        {
            return true;
        }
        db.JobClaims.Add(new JobClaim { JobId = jobId, Worker = me, Until = until });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }

    private async Task ReleaseClaimAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var me = worker.Id;
        await db.JobClaims.Where(c => c.JobId == jobId && c.Worker == me).ExecuteDeleteAsync(cancellationToken);
    }

    private async Task KeepBeatingAsync(JobRequested message, TimeSpan interval, TimeSpan lease, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        var me = worker.Id;
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            try
            {
                // Its own scope: the handler's context is busy building the report.
                await using var scope = scopes.CreateAsyncScope();
                var claims = scope.ServiceProvider.GetRequiredService<ReportingDbContext>().JobClaims;
                var until = time.GetUtcNow() + lease;
                await claims.Where(c => c.JobId == message.JobId && c.Worker == me)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.Until, until), cancellationToken);
                await SendHeartbeatAsync(message, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Log.HeartbeatFailed(logger, e, message.JobId);
            }
        }
    }

    private static async Task StopAsync(CancellationTokenSource beating, Task heartbeats)
    {
        await beating.CancelAsync();
        try
        {
            await heartbeats;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private Task SendHeartbeatAsync(JobRequested message, CancellationToken cancellationToken) =>
        bus.SendAsync(message.ReplyTo, new JobHeartbeat(message.JobId, message.Attempt, worker.Id, time.GetUtcNow()), Correlated(message), cancellationToken);

    private async Task ReplyAsync(JobRequested message, bool succeeded, string? result, string? error, bool retryable, CancellationToken cancellationToken)
    {
        using var document = result is null ? null : JsonDocument.Parse(result);
        var completed = new JobCompleted(message.JobId, message.Attempt, worker.Id, succeeded, document?.RootElement.Clone(), error, retryable, time.GetUtcNow());
        // If this send fails the delivery is retried: the stored result (or the failure) is answered again.
        await bus.SendAsync(message.ReplyTo, completed, Correlated(message), cancellationToken);
    }

    private static MessageProperties Correlated(JobRequested message) =>
        new() { CorrelationId = message.JobId.ToString("D"), PartitionKey = message.JobId.ToString("D") };

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Job {JobId} attempt {Attempt} was computed before; its stored result is sent again")]
        public static partial void AlreadyComputed(ILogger logger, Guid jobId, int attempt);

        [LoggerMessage(2, LogLevel.Information, "Job {JobId} attempt {Attempt} is claimed by another live worker; left to it")]
        public static partial void ClaimedElsewhere(ILogger logger, Guid jobId, int attempt);

        [LoggerMessage(3, LogLevel.Information, "Job {JobId} attempt {Attempt} computed")]
        public static partial void Computed(ILogger logger, Guid jobId, int attempt);

        [LoggerMessage(4, LogLevel.Warning, "Job {JobId} refused: {Reason}")]
        public static partial void Refused(ILogger logger, Guid jobId, string reason);

        [LoggerMessage(5, LogLevel.Warning, "Job {JobId} attempt {Attempt} failed")]
        public static partial void Failed(ILogger logger, Exception exception, Guid jobId, int attempt);

        [LoggerMessage(6, LogLevel.Warning, "Heartbeat of job {JobId} failed; trying again on the next beat")]
        public static partial void HeartbeatFailed(ILogger logger, Exception exception, Guid jobId);
    }
}
