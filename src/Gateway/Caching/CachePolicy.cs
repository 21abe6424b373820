namespace Portico.Gateway.Caching;

/// <summary>
/// A named cache policy from <c>Portico:Caching:Policies</c> in the gateway file; a route opts in with the
/// metadata <c>"Portico.Cache": "name"</c>. The key of an entry is always the route, the method, the path,
/// the whole query (sorted), the values of <see cref="VaryByHeaders"/> and, for <see cref="CacheScope.Private"/>,
/// the user: no setting can leave any of them out, so no answer can reach a request it was not made for.
/// </summary>
public sealed record CachePolicy
{
    /// <summary>Freshness; an origin's <c>s-maxage</c> or <c>max-age</c> can shorten it, never lengthen it.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Request headers whose values make different entries. An origin that varies on any other header is not cached.</summary>
    public string[] VaryByHeaders { get; init; } = [];

    public CacheScope Scope { get; init; } = CacheScope.Public;

    /// <summary>Larger answers pass through uncached.</summary>
    public int MaxEntrySize { get; init; } = 512 * 1024;

    /// <summary>After freshness ends, serve the old answer at once for this long while one background request refreshes it.</summary>
    public TimeSpan StaleWhileRevalidate { get; init; }

    /// <summary>After freshness ends, serve the old answer for this long when the upstream fails, times out or is cut off.</summary>
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
}
