using System.Text;

namespace Portico.Weather.Forecasts;

/// <summary>
/// 64-bit FNV-1a over UTF-8: the same text gives the same number in every process, on every machine
/// (unlike <see cref="string.GetHashCode()"/>, which is randomized per process).
/// </summary>
internal static class StableHash
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    public static ulong Fnv1a64(string text)
    {
        var hash = OffsetBasis;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= Prime;
        }
        return hash;
    }
}
