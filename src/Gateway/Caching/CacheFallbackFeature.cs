namespace Portico.Gateway.Caching;

/// <summary>
/// Set on a request that has a stale entry it may fall back to (stale-if-error). Steps that would answer
/// with an upstream failure mark <see cref="UpstreamFailed"/> and leave the answer to the cache instead.
/// </summary>
internal sealed class CacheFallbackFeature
{
    public bool UpstreamFailed { get; set; }
}
