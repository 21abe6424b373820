using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Portico.Gateway.Caching;

/// <summary>
/// The response's cache directives as the gateway reads them: from <c>Portico-Cache-Control</c> when present and
/// valid, else <c>CDN-Cache-Control</c>, else <c>Cache-Control</c> (RFC 9213 §2.1). The list syntax is parsed by
/// <see cref="NameValueHeaderValue"/>; only the arguments' meaning is decided here.
/// </summary>
internal sealed class CacheDirectives
{
    public const string PorticoCacheControl = "Portico-Cache-Control";
    public const string CdnCacheControl = "CDN-Cache-Control";

    /// <summary>No field, or none the gateway could read.</summary>
    public static readonly CacheDirectives None = new();

    public bool Present { get; private init; }

    /// <summary>The field was there but could not be read as a directive list: nothing in it can be trusted.</summary>
    public bool Unreadable { get; private init; }

    /// <summary>True when <c>Portico-Cache-Control</c> or <c>CDN-Cache-Control</c> decided; Expires is then ignored (RFC 9213 §2.1).</summary>
    public bool Targeted { get; private init; }

    public bool NoStore { get; private set; }
    public bool NoCache { get; private set; }
    public bool Private { get; private set; }
    public bool Public { get; private set; }
    public bool MustRevalidate { get; private set; }
    public bool ProxyRevalidate { get; private set; }
    public TimeSpan? MaxAge { get; private set; }
    public TimeSpan? SharedMaxAge { get; private set; }
    public TimeSpan? StaleWhileRevalidate { get; private set; }
    public TimeSpan? StaleIfError { get; private set; }

    /// <summary>A max-age or s-maxage was invalid (<c>-1</c>, quoted, repeated): the response counts as stale (RFC 9111 §4.2.1, §1.2.2).</summary>
    public bool InvalidLifetime { get; private set; }

    /// <summary>The directives that apply to the gateway, by the precedence of RFC 9213 §2.1.</summary>
    public static CacheDirectives Of(IHeaderDictionary headers)
    {
        foreach (var name in (string[])[PorticoCacheControl, CdnCacheControl])
        {
            if (headers.TryGetValue(name, out var targeted) && Parse(targeted, targeted: true) is { Unreadable: false } valid)
            {
                return valid; // a targeted field that is invalid is ignored (RFC 9213 §2.1)
            }
        }
        return headers.TryGetValue(HeaderNames.CacheControl, out var values) ? Parse(values, targeted: false) : None;
    }

    public static CacheDirectives Parse(StringValues values, bool targeted = false)
    {
        if (StringValues.IsNullOrEmpty(values))
        {
            return None;
        }
        if (!NameValueHeaderValue.TryParseList(values, out var list))
        {
            return new CacheDirectives { Present = true, Unreadable = true, Targeted = targeted };
        }
        var result = new CacheDirectives { Present = true, Targeted = targeted };
        foreach (var directive in list)
        {
            var name = directive.Name.Value;
            var value = directive.Value;
            switch (name?.ToLowerInvariant())
            {
                case "no-store": result.NoStore = true; break;
                // §5.2.2.4, §5.2.2.7: the qualified forms (naming fields) are treated as the unqualified ones, the
                // conservative reading a shared cache is allowed.
                case "no-cache": result.NoCache = true; break;
                case "private": result.Private = true; break;
                case "public": result.Public = true; break;
                case "must-revalidate": result.MustRevalidate = true; break;
                case "proxy-revalidate": result.ProxyRevalidate = true; break;
                case "max-age": result.MaxAge = result.Lifetime(result.MaxAge, value); break;
                case "s-maxage": result.SharedMaxAge = result.Lifetime(result.SharedMaxAge, value); break;
                // RFC 5861 §3, §4: an invalid window is ignored.
                case "stale-while-revalidate": result.StaleWhileRevalidate = DeltaSeconds(value) ?? result.StaleWhileRevalidate; break;
                case "stale-if-error": result.StaleIfError = DeltaSeconds(value) ?? result.StaleIfError; break;
            }
        }
        return result;
    }

    /// <summary>RFC 9111 §4.2.1: a repeated or invalid lifetime makes the response stale.</summary>
    private TimeSpan? Lifetime(TimeSpan? earlier, StringSegment value)
    {
        if (earlier is not null || DeltaSeconds(value) is not { } seconds)
        {
            InvalidLifetime = true;
            return TimeSpan.Zero;
        }
        return seconds;
    }

    /// <summary>
    /// RFC 9111 §1.2.2: delta-seconds is digits only (so <c>-1</c> and a quoted value are invalid); a value too large
    /// for 2^31 seconds is taken as 2^31.
    /// </summary>
    public static TimeSpan? DeltaSeconds(StringSegment value)
    {
        if (value.Length == 0)
        {
            return null;
        }
        foreach (var c in value.AsSpan())
        {
            if (!char.IsAsciiDigit(c))
            {
                return null;
            }
        }
        return TimeSpan.FromSeconds(long.TryParse(value.AsSpan(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? Math.Min(seconds, 1L << 31)
            : 1L << 31);
    }
}
