using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Routing;
using Portico.ServiceDefaults.Http;
using StackExchange.Redis;

namespace Portico.Gateway.Composition;

/// <summary>
/// Answers a durable composition: exactly one run per caller and <c>Idempotency-Key</c>. The first request begins the
/// run in the saga log and runs it to its end whether or not the client stays; a retry with the same key gets the
/// settled answer again (<c>Idempotent-Replayed: true</c>), takes over a run whose owner went quiet, or is told the run
/// is in progress (409 with Retry-After). The same key with another request is 422.
/// </summary>
internal sealed partial class DurableCompositionHandler(SagaLog log, SagaRecovery recovery, CompositionExecutor executor, TimeProvider time,
    ILogger<DurableCompositionHandler> logger)
{
    public async Task ExecuteAsync(HttpContext context, CompositionPlan plan)
    {
        var settings = plan.Durable!;
        var keys = context.Request.Headers[RequestSafety.IdempotencyKeyHeader];
        // The limit every Portico service applies: a key Ordering would refuse is refused here, before anything starts.
        if (keys.Count != 1 || keys[0] is not { } key || !IdempotencyKeys.IsValid(key))
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Idempotency-Key required",
                $"'{plan.Name}' runs exactly once per key: send one {RequestSafety.IdempotencyKeyHeader} header of {IdempotencyKeys.Rule}, "
                + "and the same one when you retry.",
                new Dictionary<string, string[]> { [RequestSafety.IdempotencyKeyHeader] = [keys.Count == 0 ? "Required." : $"One value of {IdempotencyKeys.Rule}."] });
            return;
        }
        var (body, raw, problem) = await CompositionExecutor.ReadBodyAsync(context, plan, read: true);
        if (problem is not null)
        {
            await problem;
            return;
        }

        // Scoped to the caller: two users' keys never meet.
        var sagaKey = SagaLog.KeyFor(plan.Name, context.User.FindFirstValue("sub") ?? "", key);
        var fingerprint = Fingerprint(context.Request, raw);
        var input = CompositionInput.Capture(context, plan, body);
        var owner = recovery.NewOwner();
        try
        {
            var begun = await log.BeginAsync(sagaKey, plan.Name, fingerprint, owner, input, settings.Retention);
            if (begun.Outcome == SagaWriteOutcome.StoreFailed)
            {
                await StoreUnavailableAsync(context, plan, begun.Reason);
                return;
            }
            if (begun.Outcome == SagaWriteOutcome.Conflict)
            {
                await AnswerExistingAsync(context, plan, await log.LoadAsync(sagaKey), fingerprint);
                return;
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or CryptographicException)
        {
            // CryptographicException: the key ring (kept in the store) could not be read or made.
            await StoreUnavailableAsync(context, plan, ex.Message);
            return;
        }

        var journal = new SagaJournal(log, plan.Name, sagaKey, owner, settings, logger);
        // Not tied to the request: once begun, the run goes to its end whether or not the client stays.
        var answer = await executor.RunAsync(plan, new CompositionScope(context, input), journal, CancellationToken.None);
        if (answer.Settled && !await journal.CompleteAsync(answer))
        {
            answer = CompositionExecutor.PendingAnswer(plan, settings, null, $"The outcome of '{plan.Name}' could not be kept in its saga log: {journal.LostBecause}.",
                StatusCodes.Status503ServiceUnavailable, context.TraceIdentifier);
        }
        await answer.WriteAsync(context);
    }

    private async Task StoreUnavailableAsync(HttpContext context, CompositionPlan plan, string reason)
    {
        Log.StoreUnavailable(logger, plan.Name, reason);
        context.Response.Headers.RetryAfter = "1";
        await GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Saga log unavailable",
            $"'{plan.Name}' records what it does before doing it, and its log could not be reached; nothing was done. Retry with the same {RequestSafety.IdempotencyKeyHeader}.");
    }

    private async Task AnswerExistingAsync(HttpContext context, CompositionPlan plan, SagaState? state, string fingerprint)
    {
        var settings = plan.Durable!;
        if (state is not null && state.Fingerprint != fingerprint)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused",
                $"This {RequestSafety.IdempotencyKeyHeader} was used for another request to '{plan.Name}'; use a new key for a new request.");
            return;
        }
        if (state?.Final is { } final)
        {
            await final.WriteAsync(context, replayed: true);
            return;
        }
        if (state is not null && recovery.IsStale(state, settings) && await recovery.ResumeAsync(state, plan, "retry") is { } resumed)
        {
            await resumed.WriteAsync(context);
            return;
        }
        // Its owner is at work, or will be taken over once quiet for RecoverAfter.
        var quietFor = state is null ? TimeSpan.Zero : time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(state.UpdatedMs);
        var wait = quietFor < plan.Timeout ? TimeSpan.FromSeconds(1) : settings.RecoverAfter - quietFor;
        var seconds = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers.RetryAfter = seconds;
        await GatewayProblems.WriteAsync(context, StatusCodes.Status409Conflict, "Request in progress",
            $"A request to '{plan.Name}' with this {RequestSafety.IdempotencyKeyHeader} is still being carried out. Retry with the same key after {seconds} s to get its outcome.");
    }

    /// <summary>The request a key stands for: method, target and body bytes.</summary>
    private static string Fingerprint(HttpRequest request, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static partial class Log
    {
        [LoggerMessage(420, LogLevel.Warning, "Composition {Composition}: the saga log is unavailable, nothing was done: {Reason}")]
        public static partial void StoreUnavailable(ILogger logger, string composition, string reason);
    }
}
