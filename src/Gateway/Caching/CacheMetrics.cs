using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Caching;

internal enum CacheResult { Hit, Miss, Stale, Coalesced, Bypass, Revalidated }

/// <summary>Cache counters of the <c>Portico.Gateway</c> meter: results per policy, evictions, bytes held.</summary>
internal sealed class CacheMetrics
{
    private static readonly string[] ResultNames = ["hit", "miss", "stale", "coalesced", "bypass", "revalidated"];

    private readonly Meter _meter;
    private readonly ConcurrentDictionary<string, long[]> _results = new(StringComparer.Ordinal);
    private readonly Counter<long> _stored;
    private readonly Counter<long> _evictions;

    public CacheMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(GatewayMeter.Name);
        // Counted here and read when metrics are collected: a hit costs one increment, not a pass through the
        // metrics SDK's tag lookup (about 1 % of a cache hit's CPU).
        _meter.CreateObservableCounter("portico.gateway.cache.requests", ObserveResults,
            description: "Cacheable requests by result: hit, miss, stale, coalesced, bypass, revalidated.");
        _stored = _meter.CreateCounter<long>("portico.gateway.cache.stored_bytes", "By", "Bytes of answers stored.");
        _evictions = _meter.CreateCounter<long>("portico.gateway.cache.evictions", description: "Entries dropped from the memory tier for room.");
    }

    /// <summary>The result counts of one policy, for callers that keep them at hand.</summary>
    public long[] ResultsOf(string policy) => _results.GetOrAdd(policy, static _ => new long[ResultNames.Length]);

    /// <summary>
    /// A policy's lookups since start and how many were answered from the cache (fresh, stale, coalesced onto another
    /// request's fetch, or revalidated); bypasses are neither. For the admin API's hit ratio.
    /// </summary>
    public (long Hits, long Lookups) HitsOf(string policy)
    {
        if (!_results.TryGetValue(policy, out var r))
        {
            return (0, 0);
        }
        var hits = Volatile.Read(ref r[(int)CacheResult.Hit]) + Volatile.Read(ref r[(int)CacheResult.Stale])
            + Volatile.Read(ref r[(int)CacheResult.Coalesced]) + Volatile.Read(ref r[(int)CacheResult.Revalidated]);
        return (hits, hits + Volatile.Read(ref r[(int)CacheResult.Miss]));
    }

    public void Result(string policy, CacheResult result) => Count(ResultsOf(policy), result);

    public static void Count(long[] results, CacheResult result) => Interlocked.Increment(ref results[(int)result]);

    public void Stored(string policy, long bytes) => _stored.Add(bytes, new KeyValuePair<string, object?>("policy", policy));

    public void Evicted() => _evictions.Add(1);

    public void ObserveMemory(Func<long> bytes) =>
        _meter.CreateObservableGauge("portico.gateway.cache.memory_bytes", bytes, "By", "Bytes held by the memory tier.");

    private IEnumerable<Measurement<long>> ObserveResults()
    {
        foreach (var (policy, counts) in _results)
        {
            for (var i = 0; i < ResultNames.Length; i++)
            {
                yield return new Measurement<long>(Volatile.Read(ref counts[i]),
                    new KeyValuePair<string, object?>("policy", policy), new KeyValuePair<string, object?>("result", ResultNames[i]));
            }
        }
    }
}
