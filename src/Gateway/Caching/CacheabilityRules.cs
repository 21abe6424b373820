using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Portico.Gateway.Caching;

/// <summary>What the origin's answer allows (RFC 9111, for a shared cache), and how long it stays fresh.</summary>
internal static class CacheabilityRules
{
    private static readonly HashSet<int> CacheableStatuses = [200, 203, 204, 300, 301, 308, 404, 410];

    // Hop-by-hop, per-request or per-hop headers are not replayed from the cache.
    private static readonly HashSet<string> NotStored = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Trailer", "Date", "Age",
        "Set-Cookie", "X-Request-Id", CachePolicies.ResultHeader, "Retry-After",
    };

    /// <summary>The freshness lifetime, or null when the answer must not be stored.</summary>
    public static TimeSpan? Freshness(HttpResponse response, CachePolicy policy, bool requestHadAuthorization)
    {
        if (!CacheableStatuses.Contains(response.StatusCode) || response.Headers.ContainsKey(HeaderNames.SetCookie))
        {
            return null;
        }
        foreach (var vary in response.Headers.Vary.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            if (vary == "*" || !policy.VaryByHeaders.Contains(vary, StringComparer.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        var ttl = policy.Ttl;
        var cacheControl = response.Headers.CacheControl;
        if (CacheControlHeaderValue.TryParse(cacheControl.ToString(), out var cc) && cc is not null)
        {
            if (cc.NoStore || cc.NoCache)
            {
                return null;
            }
            if (cc.Private && policy.Scope == CacheScope.Public)
            {
                return null;
            }
            if (requestHadAuthorization && policy.Scope == CacheScope.Public && !cc.Public && cc.SharedMaxAge is null && !cc.MustRevalidate)
            {
                // RFC 9111 §3.5: an answer to a request that carried Authorization (valid or not) is shared only
                // when the origin says so.
                return null;
            }
            var originMaxAge = cc.SharedMaxAge ?? cc.MaxAge;
            if (originMaxAge is { } maxAge && maxAge < ttl)
            {
                ttl = maxAge;
            }
        }
        else if (requestHadAuthorization && policy.Scope == CacheScope.Public)
        {
            return null;
        }
        return ttl > TimeSpan.Zero ? ttl : null;
    }

    public static KeyValuePair<string, string[]>[] StoredHeaders(HttpResponse response) =>
        response.Headers.Where(h => !NotStored.Contains(h.Key)).Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!)).ToArray();

    public static string Age(DateTimeOffset storedAt, DateTimeOffset now) =>
        Math.Max(0, (long)(now - storedAt).TotalSeconds).ToString(CultureInfo.InvariantCulture);
}
