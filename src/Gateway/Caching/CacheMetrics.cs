using System.Diagnostics.Metrics;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Caching;

/// <summary>Cache counters of the <c>Portico.Gateway</c> meter: results per policy, evictions, bytes held.</summary>
internal sealed class CacheMetrics
{
    private readonly Meter _meter;
    private readonly Counter<long> _results;
    private readonly Counter<long> _stored;
    private readonly Counter<long> _evictions;

    public CacheMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(GatewayMeter.Name);
        _results = _meter.CreateCounter<long>("portico.gateway.cache.requests", description: "Cacheable requests by result: hit, miss, stale, coalesced, bypass.");
        _stored = _meter.CreateCounter<long>("portico.gateway.cache.stored_bytes", "By", "Bytes of answers stored.");
        _evictions = _meter.CreateCounter<long>("portico.gateway.cache.evictions", description: "Entries dropped from the memory tier for room.");
    }

    public void Result(string policy, string result) =>
        _results.Add(1, new KeyValuePair<string, object?>("policy", policy), new KeyValuePair<string, object?>("result", result));

    public void Stored(string policy, long bytes) => _stored.Add(bytes, new KeyValuePair<string, object?>("policy", policy));

    public void Evicted() => _evictions.Add(1);

    public void ObserveMemory(Func<long> bytes) =>
        _meter.CreateObservableGauge("portico.gateway.cache.memory_bytes", bytes, "By", "Bytes held by the memory tier.");
}
