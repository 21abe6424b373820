using Microsoft.AspNetCore.Http;
using Portico.Gateway.Caching;
using Portico.Gateway.Resilience;

namespace Portico.Gateway.Forwarding;

/// <summary>
/// Which upstream answers are held back (their body not relayed) for another step to answer instead. Both
/// forwarders ask here: YARP's in the response transforms, Portico's own right after the response head.
/// </summary>
internal static class UpstreamAnswers
{
    public static bool HoldBack(HttpContext context, int status) =>
        HoldBackForRetry(context, status) || HoldBackForStaleEntry(context, status);

    /// <summary>A 502, 503 or 504 the resilience step may still retry elsewhere (a retry is reserved from the budget).</summary>
    public static bool HoldBackForRetry(HttpContext context, int status) =>
        status is StatusCodes.Status502BadGateway or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status504GatewayTimeout
        && context.Features.Get<ResilienceAttempt>() is { } attempt
        && attempt.TryReserveStatusRetry();

    /// <summary>A 5xx answer when the cache holds a stale entry it may serve instead (stale-if-error).</summary>
    public static bool HoldBackForStaleEntry(HttpContext context, int status)
    {
        if (status < StatusCodes.Status500InternalServerError || context.Features.Get<CacheFallbackFeature>() is not { } fallback)
        {
            return false;
        }
        fallback.UpstreamFailed = true;
        return true;
    }
}
