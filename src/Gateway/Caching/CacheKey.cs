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
        var key = new StringBuilder(128);
        Append(key, routeId);
        Append(key, "GET");
        Append(key, request.Path.Value ?? "/");
        foreach (var (name, values) in request.Query.OrderBy(q => q.Key, StringComparer.Ordinal))
        {
            Append(key, "q:" + name);
            foreach (var value in values)
            {
                Append(key, value ?? "");
            }
        }
        foreach (var header in policy.VaryByHeaders)
        {
            Append(key, "h:" + header.ToLowerInvariant());
            Append(key, request.Headers[header].ToString());
        }
        Append(key, partition);
        return key.ToString();
    }

    /// <summary>A fixed-length name for the shared store.</summary>
    public static string StoreKey(string key) => "portico:cache:e:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static void Append(StringBuilder key, string part) => key.Append(part.Length).Append(':').Append(part).Append('|');
}
