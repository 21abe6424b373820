using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Configuration;
using StackExchange.Redis;

namespace Portico.Gateway.Composition;

/// <summary>
/// Finishes or compensates durable composition runs whose owner has gone quiet for the composition's
/// <c>RecoverAfter</c> (it crashed, was stopped, or left an outcome unknown): it takes the run over in the log — from
/// then on the old owner's writes are refused — and runs the composition again from what the log holds: settled steps
/// are taken as recorded, steps that may have been applied are sent again (every durable step is idempotent), and
/// after a definite failure only compensations run. The settled answer is kept for the client's retry with its key.
/// </summary>
internal sealed partial class SagaRecovery(SagaLog log, CompositionExecutor executor, GatewayConfigProvider config, CompositionTelemetry telemetry,
    TimeProvider time, ILogger<SagaRecovery> logger)
{
    private const int SweepSize = 100;

    /// <summary>This instance, as the owner of the runs it starts or takes over.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    public string NewOwner() => $"{InstanceId}/{Guid.NewGuid():N}";

    /// <summary>Whether the run's owner has been quiet long enough for another to take it over.</summary>
    public bool IsStale(SagaState state, DurableSettings settings) =>
        time.GetUtcNow().ToUnixTimeMilliseconds() - state.UpdatedMs >= (long)settings.RecoverAfter.TotalMilliseconds;

    /// <summary>One sweep over the runs due: each is taken over and settled, or left for the next sweep. Returns how many were settled.</summary>
    public async Task<int> RecoverDueAsync(Func<bool> keepGoing, CancellationToken cancellationToken)
    {
        var plans = config.GetSection<CompositionSettings>().Plans.Where(p => p.Durable is not null).ToList();
        if (plans.Count == 0)
        {
            return 0;
        }
        var soonest = plans.Min(p => p.Durable!.RecoverAfter);
        var due = await log.DueAsync(time.GetUtcNow().ToUnixTimeMilliseconds() - (long)soonest.TotalMilliseconds, SweepSize);
        var settled = 0;
        foreach (var key in due)
        {
            if (cancellationToken.IsCancellationRequested || !keepGoing())
            {
                break;
            }
            try
            {
                if (await RecoverAsync(key) is { Settled: true })
                {
                    settled++;
                }
            }
            catch (Exception ex) when (ex is not (OperationCanceledException or RedisException or TimeoutException))
            {
                // One unreadable run must not stop the others, nor the worker.
                Log.RecoveryFailed(logger, key, ex);
            }
        }
        return settled;
    }

    private async Task<CompositionAnswer?> RecoverAsync(string key)
    {
        var state = await log.LoadAsync(key);
        if (state is null || state.Final is not null)
        {
            await log.ForgetAsync(key); // expired, or settled by its owner after the index was read
            return null;
        }
        if (config.GetSection<CompositionSettings>().Find(state.Composition) is not { Durable: { } settings } plan)
        {
            Log.NoPlan(logger, key, state.Composition);
            return null;
        }
        return IsStale(state, settings) ? await ResumeAsync(state, plan, "worker") : null;
    }

    /// <summary>Takes the run over and runs it to an answer; null when another instance got to it first.</summary>
    public async Task<CompositionAnswer?> ResumeAsync(SagaState state, CompositionPlan plan, string trigger)
    {
        var settings = plan.Durable!;
        var owner = NewOwner();
        if (state.Input is null || await log.TakeOverAsync(state, owner) is not { Written: true })
        {
            return null;
        }
        var journal = new SagaJournal(log, plan.Name, state.Key, owner, settings, logger, state);
        var context = new DefaultHttpContext { TraceIdentifier = state.Input.RequestId };
        var answer = await executor.RunAsync(plan, new CompositionScope(context, state.Input), journal, CancellationToken.None);
        if (answer.Settled && (journal.Lost || !await journal.CompleteAsync(answer)))
        {
            answer = CompositionExecutor.PendingAnswer(plan, settings, null, $"The outcome of '{plan.Name}' could not be kept in its saga log: {journal.LostBecause}.",
                StatusCodes.Status503ServiceUnavailable, state.Input.RequestId);
        }
        telemetry.Recovered(plan.Name, answer.Outcome);
        Log.Recovered(logger, plan.Name, state.Key, trigger, answer.Outcome, answer.Status);
        return answer;
    }

    private static partial class Log
    {
        [LoggerMessage(410, LogLevel.Information, "Composition {Composition}: recovered saga {Saga} ({Trigger}): {Outcome}, answer {Status}")]
        public static partial void Recovered(ILogger logger, string composition, string saga, string trigger, string outcome, int status);

        [LoggerMessage(412, LogLevel.Error, "Saga {Saga} could not be recovered; left for the next sweep")]
        public static partial void RecoveryFailed(ILogger logger, string saga, Exception exception);

        [LoggerMessage(411, LogLevel.Warning, "Saga {Saga} belongs to composition {Composition}, which is not durable in the gateway file any more; left as it is")]
        public static partial void NoPlan(ILogger logger, string saga, string composition);
    }
}
