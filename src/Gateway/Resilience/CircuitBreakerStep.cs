using Microsoft.AspNetCore.Http;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace Portico.Gateway.Resilience;

/// <summary>
/// The gate of each attempt's destination breaker, after load balancing has chosen the destination: an open
/// breaker answers for the destination without sending anything. The attempt's outcome is reported to the
/// breaker by the resilience step once the forwarder returns (<see cref="Report"/>).
/// </summary>
internal static class CircuitBreakerStep
{
    public static Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var attempt = context.Features.Get<ResilienceAttempt>();
        var proxy = context.GetReverseProxyFeature();
        var chosen = proxy.AvailableDestinations;
        if (attempt is null || chosen.Count != 1 || attempt.State.BreakerFor(chosen[0]) is not { } breaker)
        {
            return next();
        }
        if (!breaker.TryEnter(out var probe))
        {
            // Open, or its probe is already out: nothing is sent, and the retry loop may go elsewhere.
            attempt.RejectedByBreaker = true;
            proxy.ProxiedDestination = chosen[0];
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        }
        attempt.Breaker = breaker;
        attempt.Probe = probe;
        return next();
    }

    /// <summary>Tells the attempt's breaker (if one let it through) how the attempt ended.</summary>
    public static void Report(HttpContext context, ResilienceAttempt attempt, bool threw)
    {
        if (attempt.Breaker is not { } breaker)
        {
            return;
        }
        attempt.Breaker = null;
        if (attempt.ClientAborted.IsCancellationRequested)
        {
            breaker.Abandon(attempt.Probe); // the client left; says nothing about the destination
            return;
        }
        breaker.Report(threw || IsFailure(context, attempt) ? AttemptResult.Failed : AttemptResult.Succeeded, attempt.Probe);
    }

    private static bool IsFailure(HttpContext context, ResilienceAttempt attempt)
    {
        if (context.Features.Get<IForwarderErrorFeature>() is { } error)
        {
            return error.Error is not (ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.RequestBodyClient
                or ForwarderError.ResponseBodyCanceled or ForwarderError.ResponseBodyClient) || TransportErrors.IsConnectionRefused(error.Exception)
                || attempt.AttemptTimer?.IsCancellationRequested == true;
        }
        return context.Response.StatusCode >= StatusCodes.Status500InternalServerError;
    }
}
