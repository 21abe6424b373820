using Microsoft.AspNetCore.Http;
using Polly;
using Polly.CircuitBreaker;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace Portico.Gateway.Resilience;

/// <summary>
/// Runs each attempt through its destination's circuit breaker (after load balancing has chosen the
/// destination) and tells the breaker whether the attempt failed: a transport error, a timeout or a 5xx.
/// </summary>
internal static class CircuitBreakerStep
{
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var attempt = context.Features.Get<ResilienceAttempt>();
        var chosen = context.GetReverseProxyFeature().AvailableDestinations;
        if (attempt is null || chosen.Count != 1 || attempt.State.BreakerFor(chosen[0]) is not { } breaker)
        {
            await next();
            return;
        }

        var resilienceContext = ResilienceContextPool.Shared.Get(context.RequestAborted);
        try
        {
            var outcome = await breaker.ExecuteOutcomeAsync(static async (_, s) =>
            {
                await s.next();
                return Outcome.FromResult(IsFailure(s.context, s.attempt) ? AttemptResult.Failed : AttemptResult.Succeeded);
            }, resilienceContext, (next, context, attempt));

            if (outcome.Exception is BrokenCircuitException)
            {
                // Open, or half-open with its probe already out: nothing was sent.
                attempt.RejectedByBreaker = true;
                context.GetReverseProxyFeature().ProxiedDestination = chosen[0];
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            }
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilienceContext);
        }
    }

    private static bool IsFailure(HttpContext context, ResilienceAttempt attempt)
    {
        if (attempt.ClientAborted.IsCancellationRequested)
        {
            return false; // the client left; says nothing about the destination
        }
        if (context.Features.Get<IForwarderErrorFeature>() is { } error)
        {
            return error.Error is not (ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.RequestBodyClient
                or ForwarderError.ResponseBodyCanceled or ForwarderError.ResponseBodyClient) || TransportErrors.IsConnectionRefused(error.Exception)
                || attempt.AttemptTimer?.IsCancellationRequested == true;
        }
        return context.Response.StatusCode >= StatusCodes.Status500InternalServerError;
    }
}
