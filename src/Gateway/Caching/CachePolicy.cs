namespace Portico.Gateway.Caching;

/// <summary>
/// A named cache policy from <c>Portico:Caching:Policies</c> in the gateway file; a route opts in with the
/// metadata <c>"Portico.Cache": "name"</c>. The key of an entry is always the route, the method, the path,
/// the whole query (sorted), the values of <see cref="VaryByHeaders"/> and, for <see cref="CacheScope.Private"/>,
/// the user: no setting can leave any of them out, so no answer can reach a request it was not made for.
/// </summary>
public sealed record CachePolicy
{
    /// <summary>
    /// Unset (the default): the standard mode, a shared cache as RFC 9111 describes it, where the origin's headers decide
    /// freshness. Set: the override mode, where every storable answer is fresh for this long; an origin's <c>s-maxage</c>
    /// or <c>max-age</c> can shorten it, never lengthen it, and <c>no-store</c>, <c>no-cache</c>, <c>private</c>,
    /// <c>Set-Cookie</c> and a request's <c>Authorization</c> still keep an answer out.
    /// </summary>
    public TimeSpan? Ttl { get; init; }

    /// <summary>
    /// Standard mode: the most freshness guessed for an answer that has a <c>Last-Modified</c> but no explicit lifetime
    /// (RFC 9111 §4.2.2: 10 % of the time since it was modified, capped here). Zero turns heuristic freshness off.
    /// </summary>
    public TimeSpan HeuristicFreshnessLimit { get; init; } = TimeSpan.FromDays(1);

    /// <summary>
    /// Request headers whose values always make different entries. An origin's <c>Vary</c> on other headers is honoured
    /// too (the entry becomes one of several variants); <c>Vary: *</c> is never stored.
    /// </summary>
    public string[] VaryByHeaders { get; init; } = [];

    public CacheScope Scope { get; init; } = CacheScope.Public;

    /// <summary>Larger answers pass through uncached.</summary>
    public int MaxEntrySize { get; init; } = 512 * 1024;

    /// <summary>
    /// After freshness ends, serve the old answer at once for this long while one background request refreshes it. In the
    /// standard mode the origin's <c>stale-while-revalidate</c> takes its place, and neither applies when the origin said
    /// <c>no-cache</c>, <c>must-revalidate</c>, <c>proxy-revalidate</c> or <c>s-maxage</c>.
    /// </summary>
    public TimeSpan StaleWhileRevalidate { get; init; }

    /// <summary>
    /// After freshness ends, serve the old answer for this long when the upstream fails, times out or is cut off. In the
    /// standard mode the origin's <c>stale-if-error</c> takes its place, with the same exceptions as above.
    /// </summary>
    public TimeSpan StaleIfError { get; init; }

    /// <summary>Tags for purging (e.g. <c>products</c>).</summary>
    public string[] Tags { get; init; } = [];

    /// <summary>How long concurrent misses for one key wait for the one request that went upstream.</summary>
    public TimeSpan CoalescingTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Also keep entries in the shared store, so other gateway instances hit them.</summary>
    public bool Shared { get; init; } = true;
}

public enum CacheScope
{
    /// <summary>One entry for everyone (the origin must not say <c>private</c>).</summary>
    Public,

    /// <summary>Entries partitioned by user; requests without a user are not cached.</summary>
    Private,
}

public static class CachePolicies
{
    public const string MetadataKey = "Portico.Cache";
    public const string ResultHeader = "Portico-Cache";

    /// <summary>RFC 9211's field, beside <see cref="ResultHeader"/>; the cache names itself <c>Portico</c> in it.</summary>
    public const string StatusHeader = "Cache-Status";
}
