using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Resilience;

/// <summary>
/// The per-route resilience step of the proxy pipeline, placed before load balancing so that every attempt
/// is balanced afresh: bulkhead, total and per-attempt timeouts, and retries to a different healthy
/// destination with jittered backoff within the cluster's retry budget.
/// </summary>
/// <remarks>
/// What may be retried: an attempt that sent nothing (refused connection, open breaker) whenever the body can
/// be replayed; an attempt that may have reached the service (502/503/504, timeout, broken connection) only
/// for GET, HEAD, OPTIONS, PUT, DELETE or a request with an <c>Idempotency-Key</c>. Bodies up to
/// <see cref="RetryPolicy.MaxReplayBodySize"/> are kept in memory for replay; larger ones are never retried.
/// </remarks>
internal sealed class ResilienceMiddleware(
    GatewayConfigProvider config,
    ResilienceStates states,
    ResilienceMetrics metrics,
    TimeProvider time,
    ILogger<ResilienceMiddleware> logger)
{
    private static readonly Func<object, Task> StopTimers = static state =>
    {
        var attempt = (ResilienceAttempt)state;
        attempt.AttemptTimer?.CancelAfter(Timeout.InfiniteTimeSpan);
        attempt.TotalTimer?.CancelAfter(Timeout.InfiniteTimeSpan);
        return Task.CompletedTask;
    };

    public Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var proxy = context.GetReverseProxyFeature();
        var settings = config.GetSection<ResilienceSettings>();
        if (!settings.PolicyByRoute.TryGetValue(proxy.Route.Config.RouteId, out var policyName) || proxy.Route.Cluster is not { } cluster)
        {
            return next();
        }
        var state = states.Get(policyName, settings.Policies[policyName], cluster);
        // No extra async frame per request unless there is a bulkhead to hold a lease across the call.
        return state.Bulkhead is { } bulkhead ? InvokeWithBulkheadAsync(context, next, proxy, state, bulkhead) : RunAttemptsAsync(context, next, proxy, state);
    }

    private async Task InvokeWithBulkheadAsync(HttpContext context, Func<Task> next, IReverseProxyFeature proxy, ClusterResilience state, ConcurrencyLimiter bulkhead)
    {
        using var lease = await AcquireAsync(bulkhead, state.Policy.Concurrency!, context.RequestAborted);
        if (!lease.IsAcquired)
        {
            metrics.Shed(state.ClusterId);
            ResilienceLog.Shed(logger, state.ClusterId);
            context.Response.Headers.RetryAfter = "1";
            await GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Service busy",
                $"Cluster '{state.ClusterId}' is at its concurrency limit; try again shortly.");
            return;
        }
        await RunAttemptsAsync(context, next, proxy, state);
    }

    private async Task RunAttemptsAsync(HttpContext context, Func<Task> next, IReverseProxyFeature proxy, ClusterResilience state)
    {
        var policy = state.Policy;
        var request = context.Request;
        state.Budget.RecordRequest();

        var hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;
        var replayable = !hasBody || request.ContentLength <= policy.Retry.MaxReplayBodySize;
        if (hasBody && replayable)
        {
            request.EnableBuffering(policy.Retry.MaxReplayBodySize);
        }
        var idempotent = RequestSafety.IsIdempotent(request);

        var clientAborted = context.RequestAborted;
        var attempt = new ResilienceAttempt(state, clientAborted);
        context.Features.Set(attempt);
        if (policy.Timeout is { } totalTimeout)
        {
            attempt.TotalTimer = new CancellationTokenSource(totalTimeout, time);
        }
        var timed = attempt.TotalTimer is not null || policy.AttemptTimeout is not null;
        if (timed)
        {
            context.Response.OnStarting(StopTimers, attempt);
        }

        try
        {
            for (var retries = 0; ; retries++)
            {
                attempt.RetryReserved = false;
                attempt.RejectedByBreaker = false;
                attempt.MayRetryStatus = idempotent && replayable && retries < policy.Retry.MaxRetries && HasAlternative(proxy, attempt);

                CancellationTokenSource? linked = null;
                if (timed)
                {
                    attempt.AttemptTimer?.Dispose();
                    attempt.AttemptTimer = policy.AttemptTimeout is { } attemptTimeout ? new CancellationTokenSource(attemptTimeout, time) : null;
                    linked = CancellationTokenSource.CreateLinkedTokenSource(clientAborted,
                        attempt.TotalTimer?.Token ?? default, attempt.AttemptTimer?.Token ?? default);
                    context.RequestAborted = linked.Token;
                }
                var threw = true;
                try
                {
                    await next();
                    threw = false;
                }
                finally
                {
                    context.RequestAborted = clientAborted;
                    linked?.Dispose();
                    CircuitBreakerStep.Report(context, attempt, threw);
                }
                if (proxy.ProxiedDestination is { } proxied)
                {
                    attempt.AddTried(proxied);
                }

                if (context.Response.HasStarted || clientAborted.IsCancellationRequested)
                {
                    return;
                }
                var error = context.Features.Get<IForwarderErrorFeature>();
                if (attempt.TotalTimer?.IsCancellationRequested == true)
                {
                    await FailAsync(context, StatusCodes.Status504GatewayTimeout, "Upstream timeout",
                        $"Cluster '{state.ClusterId}' did not answer within {policy.Timeout}." + RequestSafety.UnknownOutcome(context.Request));
                    return;
                }
                if (error is { Error: ForwarderError.NoAvailableDestinations })
                {
                    context.Response.Headers.RetryAfter = RetryAfterSeconds(state);
                    return;
                }

                var (reason, charged) = ClassifyFailure(attempt, error, idempotent, replayable);
                if (reason is null)
                {
                    if (attempt.AttemptTimer?.IsCancellationRequested == true)
                    {
                        await FailAsync(context, StatusCodes.Status504GatewayTimeout, "Upstream timeout",
                            $"Cluster '{state.ClusterId}' did not answer within {policy.AttemptTimeout}." + RequestSafety.UnknownOutcome(context.Request));
                    }
                    return;
                }

                var candidates = Candidates(proxy, attempt);
                var withinLimit = retries < policy.Retry.MaxRetries || !charged;
                if (candidates.Count == 0 || !withinLimit || (charged && !attempt.RetryReserved && !TryCharge(state, reason)))
                {
                    await GiveUpAsync(context, state, attempt, reason, policy);
                    return;
                }

                if (charged)
                {
                    await BackoffAsync(policy.Retry, retries, attempt.TotalTimer?.Token ?? clientAborted);
                }
                ResilienceLog.Retrying(logger, state.ClusterId, candidates.Count == 1 ? candidates[0].DestinationId : "one of " + candidates.Count, reason,
                    proxy.ProxiedDestination?.DestinationId, retries + 1);
                metrics.Retry(state.ClusterId, reason);

                context.Response.Clear();
                context.Features.Set<IForwarderErrorFeature>(null);
                if (hasBody)
                {
                    request.Body.Position = 0;
                }
                proxy.AvailableDestinations = candidates;
            }
        }
        catch (OperationCanceledException) when (attempt.TotalTimer?.IsCancellationRequested == true && !context.Response.HasStarted)
        {
            await FailAsync(context, StatusCodes.Status504GatewayTimeout, "Upstream timeout",
                $"Cluster '{state.ClusterId}' did not answer within {policy.Timeout}." + RequestSafety.UnknownOutcome(context.Request));
        }
        finally
        {
            // Cleared as well as disposed: the OnStarting callback may still run when a problem is written later.
            attempt.AttemptTimer?.Dispose();
            attempt.AttemptTimer = null;
            attempt.TotalTimer?.Dispose();
            attempt.TotalTimer = null;
        }
    }

    /// <summary>Why the attempt failed in a way worth retrying, and whether a retry costs budget; null reason: not retryable.</summary>
    private static (string? Reason, bool Charged) ClassifyFailure(ResilienceAttempt attempt, IForwarderErrorFeature? error, bool idempotent, bool replayable)
    {
        if (attempt.RetryReserved)
        {
            return ("an upstream 5xx", true);
        }
        if (!replayable)
        {
            return (null, false);
        }
        if (attempt.RejectedByBreaker)
        {
            return ("an open circuit", false);
        }
        if (error is null)
        {
            return (null, false);
        }
        if (TransportErrors.IsConnectionRefused(error.Exception))
        {
            return ("a refused connection", false);
        }
        if (!idempotent)
        {
            return (null, false);
        }
        if (attempt.AttemptTimer?.IsCancellationRequested == true)
        {
            return ("an attempt timeout", true);
        }
        return error.Error is ForwarderError.Request or ForwarderError.ResponseHeaders ? ("a transport error", true) : (null, false);
    }

    private bool TryCharge(ClusterResilience state, string reason)
    {
        if (state.Budget.TryRetry())
        {
            return true;
        }
        metrics.BudgetExhausted(state.ClusterId);
        ResilienceLog.BudgetExhausted(logger, state.ClusterId, reason);
        return false;
    }

    private Task GiveUpAsync(HttpContext context, ClusterResilience state, ResilienceAttempt attempt, string reason, ResiliencePolicy policy)
    {
        if (attempt.RetryReserved)
        {
            // The upstream's own 5xx body was held back for a retry that can no longer happen.
            return FailAsync(context, StatusCodes.Status502BadGateway, "Bad gateway", $"Cluster '{state.ClusterId}' answered with {reason}.");
        }
        if (attempt.AttemptTimer?.IsCancellationRequested == true)
        {
            return FailAsync(context, StatusCodes.Status504GatewayTimeout, "Upstream timeout",
                $"Cluster '{state.ClusterId}' did not answer within {policy.AttemptTimeout}." + RequestSafety.UnknownOutcome(context.Request));
        }
        if (attempt.RejectedByBreaker)
        {
            return FailAsync(context, StatusCodes.Status503ServiceUnavailable, "Service unavailable",
                $"Every destination of cluster '{state.ClusterId}' is failing; its circuit is open.", RetryAfterSeconds(state));
        }
        return Task.CompletedTask; // the forwarder's own error stands and is written as problem+json
    }

    private static Task FailAsync(HttpContext context, int status, string title, string detail, string? retryAfter = null)
    {
        context.Response.Clear();
        context.Features.Set<IForwarderErrorFeature>(null);
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }
        return GatewayProblems.WriteAsync(context, status, title, detail).AsTask();
    }

    private static bool HasAlternative(IReverseProxyFeature proxy, ResilienceAttempt attempt)
    {
        var available = proxy.Route.Cluster!.DestinationsState.AvailableDestinations;
        // The destination about to be tried is not in Tried yet; so an alternative needs two not yet tried.
        var untried = 0;
        foreach (var destination in available)
        {
            if (!attempt.WasTried(destination) && ++untried > 1)
            {
                return true;
            }
        }
        return false;
    }

    private static List<DestinationState> Candidates(IReverseProxyFeature proxy, ResilienceAttempt attempt)
    {
        var available = proxy.Route.Cluster!.DestinationsState.AvailableDestinations;
        var candidates = new List<DestinationState>(available.Count);
        foreach (var destination in available)
        {
            if (!attempt.WasTried(destination))
            {
                candidates.Add(destination);
            }
        }
        return candidates;
    }

    private Task BackoffAsync(RetryPolicy retry, int retries, CancellationToken cancellationToken)
    {
        // Full jitter: a random delay up to the exponential cap spreads retries of many clients apart.
        var cap = Math.Min(retry.MaxDelay.TotalMilliseconds, retry.BaseDelay.TotalMilliseconds * Math.Pow(2, retries));
        var delay = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * cap);
        return delay <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(delay, time, cancellationToken);
    }

    private string RetryAfterSeconds(ClusterResilience state)
    {
        var wait = state.EarliestReopen() is { } reopen ? reopen - time.GetUtcNow() : TimeSpan.FromSeconds(1);
        return Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async ValueTask<RateLimitLease> AcquireAsync(ConcurrencyLimiter bulkhead, ConcurrencyPolicy policy, CancellationToken aborted)
    {
        var lease = bulkhead.AttemptAcquire();
        if (lease.IsAcquired || policy.QueueLimit == 0)
        {
            return lease;
        }
        lease.Dispose();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        wait.CancelAfter(policy.QueueTimeout);
        try
        {
            return await bulkhead.AcquireAsync(1, wait.Token);
        }
        catch (OperationCanceledException)
        {
            return FailedLease.Instance;
        }
    }

    private sealed class FailedLease : RateLimitLease
    {
        public static readonly FailedLease Instance = new();
        public override bool IsAcquired => false;
        public override IEnumerable<string> MetadataNames => [];
        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
