namespace Portico.Gateway.Routing;

/// <summary>
/// Set on a request by a step that can answer in place of an upstream failure (the cache, with a stale entry it
/// may serve under stale-if-error). Steps that would answer with a 5xx mark <see cref="UpstreamFailed"/> and leave
/// the answer to that step instead. It lives here, beside <see cref="GatewayProblems"/>, so that the shared
/// problem writer depends on no feature.
/// </summary>
internal sealed class FailureFallbackFeature
{
    public bool UpstreamFailed { get; set; }
}
