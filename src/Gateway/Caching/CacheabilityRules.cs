using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Portico.Gateway.Caching;

/// <summary>How long a stored answer is fresh and how long past that it may still be served, from its storage time.</summary>
internal readonly record struct StoragePlan(TimeSpan FreshFor, TimeSpan InitialAge, TimeSpan StaleWhileRevalidate, TimeSpan StaleIfError);

/// <summary>
/// Every rule of the cache in one place: what may be stored, for how long it is fresh, when it may be served stale, how old
/// it is, and how stored answers meet conditional requests. RFC 9111 for a shared cache unless a comment says otherwise;
/// a policy with <see cref="CachePolicy.Ttl"/> takes the override path of <see cref="Plan"/>.
/// </summary>
internal static class CacheabilityRules
{
    /// <summary>RFC 9111 §4.2.2 (RFC 9110 §15.1): statuses heuristically cacheable.</summary>
    private static readonly HashSet<int> HeuristicStatuses = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

    /// <summary>The override mode stores what it always stored.</summary>
    private static readonly HashSet<int> OverrideStatuses = [200, 203, 204, 300, 301, 308, 404, 410];

    /// <summary>Entries with validators are kept this long past their last servable moment, to be revalidated (§4.3.1).</summary>
    public static readonly TimeSpan ValidatorRetention = TimeSpan.FromHours(1);

    // Hop-by-hop, per-request or per-hop headers are not replayed from the cache (RFC 9111 §3.1); Age is computed on the way out.
    private static readonly HashSet<string> NotStored = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Trailer", "TE", "Proxy-Authenticate",
        "Proxy-Authentication-Info", "Age", "Set-Cookie", "X-Request-Id", CachePolicies.ResultHeader, CachePolicies.StatusHeader, "Retry-After",
    };

    // RFC 9111 §3.2: a 304 updates every stored field but these (and the hop-by-hop ones above).
    private static readonly HashSet<string> NotUpdated = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Length", "Content-Encoding", "Content-Type", "Content-Range",
    };

    /// <summary>How the answer may be stored and served, or null when it must not be stored.</summary>
    public static StoragePlan? Plan(int status, IHeaderDictionary headers, CachePolicy policy, bool requestHadAuthorization,
        DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var directives = CacheDirectives.Of(headers);
        if (directives.Unreadable
            || directives.NoStore                                           // §5.2.2.5
            || (directives.Private && policy.Scope == CacheScope.Public)    // §5.2.2.7: private answers stay out of a shared entry
            || headers.ContainsKey(HeaderNames.SetCookie)                   // Portico (as Varnish): a cookie is one client's
            || VaryNames(headers) is null                                   // §4.1: Vary: * never matches, so is not kept
            || (requestHadAuthorization && policy.Scope == CacheScope.Public  // §3.5
                && !directives.Public && directives.SharedMaxAge is null && !directives.MustRevalidate))
        {
            return null;
        }
        var initialAge = InitialAge(headers, requestTime, responseTime);
        if (policy.Ttl is { } ttl)
        {
            return OverridePlan(status, directives, policy, ttl, initialAge);
        }

        // §3: a final status the cache understands; 206 and 304 are not complete answers and are not stored alone.
        if (status is < 200 or > 599 or StatusCodes.Status206PartialContent or StatusCodes.Status304NotModified)
        {
            return null;
        }
        var explicitLifetime = ExplicitLifetime(headers, directives, responseTime);
        // §3: storable only with explicit freshness, public, or a heuristically cacheable status.
        if (explicitLifetime is null && !directives.Public && !HeuristicStatuses.Contains(status))
        {
            return null;
        }
        var lifetime = directives.NoCache ? TimeSpan.Zero // §5.2.2.4: stored, but validated before every use
            : explicitLifetime ?? HeuristicLifetime(status, headers, directives, policy, responseTime);

        // §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10: these forbid serving the answer stale. Otherwise RFC 5861's windows from the
        // origin, else the policy's (as Varnish's grace), which a policy leaves at zero for the RFC's strict reading.
        var noStale = directives.NoCache || directives.MustRevalidate || directives.ProxyRevalidate || directives.SharedMaxAge is not null;
        var swr = noStale ? TimeSpan.Zero : directives.StaleWhileRevalidate ?? policy.StaleWhileRevalidate;
        var sie = noStale ? TimeSpan.Zero : directives.StaleIfError ?? policy.StaleIfError;

        // §4.2.1: fresh while current_age < freshness_lifetime.
        var freshFor = lifetime > initialAge ? lifetime - initialAge : TimeSpan.Zero;
        if (freshFor == TimeSpan.Zero && swr == TimeSpan.Zero && sie == TimeSpan.Zero && !HasValidators(headers))
        {
            return null; // never servable and never revalidatable: nothing to keep
        }
        return new StoragePlan(freshFor, initialAge, swr, sie);
    }

    /// <summary>The override mode: the policy's Ttl, shortened (never lengthened) by s-maxage or max-age; the policy's stale windows.</summary>
    private static StoragePlan? OverridePlan(int status, CacheDirectives directives, CachePolicy policy, TimeSpan ttl, TimeSpan initialAge)
    {
        if (!OverrideStatuses.Contains(status) || directives.NoCache)
        {
            return null;
        }
        if (!directives.InvalidLifetime && (directives.SharedMaxAge ?? directives.MaxAge) is { } originMaxAge && originMaxAge < ttl)
        {
            ttl = originMaxAge;
        }
        return ttl > TimeSpan.Zero ? new StoragePlan(ttl, initialAge, policy.StaleWhileRevalidate, policy.StaleIfError) : null;
    }

    /// <summary>§4.2.1: s-maxage, then max-age, then Expires minus Date; null when the origin gave none.</summary>
    public static TimeSpan? ExplicitLifetime(IHeaderDictionary headers, CacheDirectives directives, DateTimeOffset responseTime)
    {
        if (directives.InvalidLifetime)
        {
            return TimeSpan.Zero; // §4.2.1: an invalid or repeated lifetime is stale
        }
        if ((directives.SharedMaxAge ?? directives.MaxAge) is { } maxAge)
        {
            return maxAge; // §5.2.2.10: s-maxage overrides max-age in a shared cache
        }
        if (directives.Targeted || !headers.TryGetValue(HeaderNames.Expires, out var expires))
        {
            return null; // RFC 9213 §2.1: a targeted field replaces Expires too
        }
        // §5.3: an invalid Expires (such as "0"), or more than one, is in the past.
        if (expires.Count != 1 || !HeaderUtilities.TryParseDate(expires.ToString(), out var expiresAt))
        {
            return TimeSpan.Zero;
        }
        var date = DateOf(headers) ?? responseTime;
        return expiresAt > date ? expiresAt - date : TimeSpan.Zero;
    }

    /// <summary>
    /// §4.2.2: without explicit freshness, 10 % of the time since Last-Modified, capped by the policy's limit, for a
    /// heuristically cacheable status or a public answer; zero otherwise.
    /// </summary>
    public static TimeSpan HeuristicLifetime(int status, IHeaderDictionary headers, CacheDirectives directives, CachePolicy policy, DateTimeOffset responseTime)
    {
        if ((!HeuristicStatuses.Contains(status) && !directives.Public)
            || !HeaderUtilities.TryParseDate(headers.LastModified.ToString(), out var lastModified))
        {
            return TimeSpan.Zero;
        }
        var date = DateOf(headers) ?? responseTime;
        var heuristic = date > lastModified ? (date - lastModified) / 10 : TimeSpan.Zero;
        return heuristic < policy.HeuristicFreshnessLimit ? heuristic : policy.HeuristicFreshnessLimit;
    }

    /// <summary>
    /// §4.2.3: corrected_initial_age = max(apparent_age, corrected_age_value), where apparent_age = max(0, response_time −
    /// date_value) and corrected_age_value = age_value + (response_time − request_time).
    /// </summary>
    public static TimeSpan InitialAge(IHeaderDictionary headers, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var apparentAge = DateOf(headers) is { } date && responseTime > date ? responseTime - date : TimeSpan.Zero;
        // §5.1: an invalid Age is ignored; a value too large is taken as 2^31 seconds.
        var ageValue = headers.TryGetValue(HeaderNames.Age, out var age) && CacheDirectives.DeltaSeconds(age.ToString().Trim()) is { } seconds
            ? seconds : TimeSpan.Zero;
        var correctedAge = ageValue + (responseTime > requestTime ? responseTime - requestTime : TimeSpan.Zero);
        return apparentAge > correctedAge ? apparentAge : correctedAge;
    }

    private static DateTimeOffset? DateOf(IHeaderDictionary headers) =>
        HeaderUtilities.TryParseDate(headers.Date.ToString(), out var date) ? date : null;

    public static bool HasValidators(IHeaderDictionary headers) => headers.ContainsKey(HeaderNames.ETag) || headers.ContainsKey(HeaderNames.LastModified);

    /// <summary>
    /// §4.1: the request headers the answer varies on, lower case and in order; empty when none; null for <c>Vary: *</c>.
    /// </summary>
    public static string[]? VaryNames(IHeaderDictionary headers)
    {
        if (!headers.TryGetValue(HeaderNames.Vary, out var values))
        {
            return [];
        }
        var names = new List<string>();
        foreach (var line in values)
        {
            foreach (var name in (line ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (name == "*")
                {
                    return null;
                }
                var lower = name.ToLowerInvariant();
                if (!names.Contains(lower))
                {
                    names.Add(lower);
                }
            }
        }
        return [.. names];
    }

    /// <summary>
    /// The fields to store: the answer's end-to-end fields, with a Date when the origin sent none (RFC 9110 §6.6.1: a
    /// recipient with a clock adds one), so hits carry the time of the answer, not of the hit.
    /// </summary>
    public static KeyValuePair<string, string[]>[] StoredHeaders(IHeaderDictionary headers, DateTimeOffset responseTime)
    {
        var stored = new List<KeyValuePair<string, string[]>>(headers.Count + 1);
        foreach (var (name, values) in headers)
        {
            if (!NotStored.Contains(name))
            {
                stored.Add(new(name, values.ToArray()!));
            }
        }
        if (!headers.ContainsKey(HeaderNames.Date))
        {
            stored.Add(new(HeaderNames.Date, [HeaderUtilities.FormatDate(responseTime)]));
        }
        return [.. stored];
    }

    /// <summary>
    /// §4.3.4: the stored fields updated by a 304's fields (all but the framing and content fields), and the merged set as a
    /// header dictionary for planning the refreshed entry.
    /// </summary>
    public static HeaderDictionary Merge(KeyValuePair<string, string[]>[] stored, IHeaderDictionary notModified)
    {
        var merged = new HeaderDictionary();
        foreach (var (name, values) in stored)
        {
            merged[name] = values;
        }
        foreach (var (name, values) in notModified)
        {
            if (!NotUpdated.Contains(name) && !NotStored.Contains(name))
            {
                merged[name] = values;
            }
        }
        return merged;
    }

    /// <summary>
    /// §4.3.2 (RFC 9110 §13.1.1, §13.1.3): whether a client's conditional request is answered 304 from a stored 2xx:
    /// If-None-Match by weak comparison (<c>*</c> matches any), else If-Modified-Since against Last-Modified (or Date).
    /// </summary>
    public static bool IsNotModified(HttpRequest request, CacheEntry entry)
    {
        if (entry.Status is < 200 or > 299 or StatusCodes.Status206PartialContent)
        {
            return false;
        }
        var headers = request.Headers;
        if (headers.IfNoneMatch.Count != 0)
        {
            if (!EntityTagHeaderValue.TryParseList(headers.IfNoneMatch, out var tags))
            {
                return false;
            }
            var stored = Header(entry, HeaderNames.ETag);
            EntityTagHeaderValue.TryParse(stored, out var etag);
            return tags.Any(t => t.Equals(EntityTagHeaderValue.Any) || (etag is not null && t.Compare(etag, useStrongComparison: false)));
        }
        if (headers.IfModifiedSince.Count != 0
            && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            && HeaderUtilities.TryParseDate(headers.IfModifiedSince.ToString(), out var since)
            && HeaderUtilities.TryParseDate(Header(entry, HeaderNames.LastModified) ?? Header(entry, HeaderNames.Date) ?? "", out var modified))
        {
            return modified <= since;
        }
        return false;
    }

    /// <summary>RFC 9110 §15.4.5: the fields a 304 carries; representation metadata stays with the 200.</summary>
    public static bool BelongsOnNotModified(string name) =>
        !name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.ContentLocation, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// RFC 9110 §14.2: one <c>bytes</c> range of a stored full 200 (If-Range, if any, must match its strong ETag or exact
    /// Last-Modified). Null: serve the whole answer. An empty range with <c>satisfiable</c> false: answer 416.
    /// </summary>
    public static (long From, long Length, bool Satisfiable)? Range(HttpRequest request, CacheEntry entry)
    {
        var headers = request.Headers;
        if (entry.Status != StatusCodes.Status200OK || headers.Range.Count == 0 || !HttpMethods.IsGet(request.Method)
            || !RangeHeaderValue.TryParse(headers.Range.ToString(), out var range) || range is null
            || !range.Unit.Equals("bytes", StringComparison.OrdinalIgnoreCase) || range.Ranges.Count != 1)
        {
            return null; // a server may ignore a Range it does not serve (§14.2); several ranges are served whole
        }
        if (headers.TryGetValue(HeaderNames.IfRange, out var ifRange) && !IfRangeMatches(ifRange.ToString(), entry))
        {
            return null;
        }
        var length = (long)entry.Body.Length;
        var (from, to) = (range.Ranges.First().From, range.Ranges.First().To);
        if (from is null)
        {
            // A suffix: the last n bytes.
            var n = Math.Min(to ?? 0, length);
            return n > 0 ? (length - n, n, true) : (0, 0, false);
        }
        if (from >= length)
        {
            return (0, 0, false);
        }
        var last = to is null || to >= length ? length - 1 : to.Value;
        return (from.Value, last - from.Value + 1, true);
    }

    private static bool IfRangeMatches(string ifRange, CacheEntry entry)
    {
        if (EntityTagHeaderValue.TryParse(ifRange, out var tag))
        {
            return !tag.IsWeak && EntityTagHeaderValue.TryParse(Header(entry, HeaderNames.ETag), out var etag) && tag.Compare(etag, useStrongComparison: true);
        }
        return HeaderUtilities.TryParseDate(ifRange, out var date)
            && HeaderUtilities.TryParseDate(Header(entry, HeaderNames.LastModified) ?? "", out var modified) && modified == date;
    }

    public static string? Header(CacheEntry entry, string name)
    {
        foreach (var (key, values) in entry.Headers)
        {
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return values.Length == 0 ? null : string.Join(", ", values);
            }
        }
        return null;
    }

    /// <summary>RFC 9111 §5.1: the Age field, whole seconds.</summary>
    public static string Age(TimeSpan age) => Math.Max(0, (long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture);
}
