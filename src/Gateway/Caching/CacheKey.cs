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

    [ThreadStatic]
    private static StringBuilder? t_builder;

    /// <summary>A fixed-length name for the shared store.</summary>
    public static string StoreKey(string key) => "portico:cache:e:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static void Append(StringBuilder key, string part) => key.Append(part.Length).Append(':').Append(part).Append('|');
}
