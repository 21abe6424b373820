using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Caching;

internal static class CacheKey
{
    /// <summary>
    /// Route, method (HEAD shares GET's entry), path, the whole query sorted by name, the vary headers and the
    /// partition. Parts are length-prefixed so no value can be crafted to look like another part.
    /// </summary>
    public static string Build(string routeId, HttpRequest request, CachePolicy policy, string partition)
    {
        // Built on every cached request, hits included: one builder per thread, and the query is parsed only
        // when there is one.
        var key = t_builder ??= new StringBuilder(256);
        key.Clear();
        Append(key, routeId);
        Append(key, "GET");
        Append(key, request.Path.Value ?? "/");
        if (request.QueryString.HasValue)
        {
            var query = request.Query;
            var names = new string[query.Count];
            var i = 0;
            foreach (var (name, _) in query)
            {
                names[i++] = name;
            }
            Array.Sort(names, StringComparer.Ordinal);
            foreach (var name in names)
            {
                Append(key, "q:" + name);
                foreach (var value in query[name])
                {
                    Append(key, value ?? "");
                }
            }
        }
        foreach (var header in policy.VaryByHeaders)
        {
            Append(key, "h:" + header.ToLowerInvariant());
            Append(key, request.Headers[header].ToString());
        }
        Append(key, partition);
        var built = key.ToString();
        if (key.Capacity > 4096)
        {
            t_builder = null; // do not keep a huge builder alive for the thread
        }
        return built;
    }

    /// <summary>Path and query as the request named them, the URI that unsafe methods invalidate (RFC 9111 §4.4).</summary>
    public static string Target(HttpRequest request) => Target(request.Path, request.QueryString);

    public static string Target(PathString path, QueryString query) => (path.Value ?? "/") + query.Value;

    /// <summary>The key of one variant: the key of the resource plus the request's normalised values of the varying headers.</summary>
    public static string VariantKey(string key, string variant) => key + "v:" + variant;

    /// <summary>
    /// The request's values of the headers a response varies on, normalised as RFC 9111 §4.1 allows: field lines
    /// combined, whitespace around list members removed, and case folded for fields whose values are case-insensitive.
    /// A missing header differs from an empty one.
    /// </summary>
    public static string Variant(string[] varyNames, IHeaderDictionary headers)
    {
        var variant = new StringBuilder();
        foreach (var name in varyNames)
        {
            variant.Append(name).Append('=');
            if (!headers.TryGetValue(name, out var values))
            {
                variant.Append("\0absent");
            }
            else
            {
                var first = true;
                foreach (var line in values)
                {
                    foreach (var member in (line ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    {
                        variant.Append(first ? "" : ",").Append(CaseInsensitiveValues.Contains(name) ? member.ToLowerInvariant() : member);
                        first = false;
                    }
                }
            }
            Append(variant, "");
        }
        return variant.ToString();
    }

    private static readonly HashSet<string> CaseInsensitiveValues = new(StringComparer.OrdinalIgnoreCase)
    {
        "accept", "accept-encoding", "accept-language", "accept-charset",
    };

    [ThreadStatic]
    private static StringBuilder? t_builder;

    /// <summary>A fixed-length name for the shared store.</summary>
    public static string StoreKey(string key) => "portico:cache:e:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static void Append(StringBuilder key, string part) => key.Append(part.Length).Append(':').Append(part).Append('|');
}
