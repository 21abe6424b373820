using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;
using StackExchange.Redis;

namespace Portico.Gateway.Caching;

/// <summary><c>Portico:Caching</c> in the host settings: the memory tier's size, and the events that purge tags.</summary>
public sealed record CachingOptions : IValidatableObject
{
    public const string SectionName = "Portico:Caching";

    private const int MaxNameLength = 200;

    /// <summary>Upper bound of the memory tier; entries that would pass it are not kept.</summary>
    [Range(1024 * 1024, long.MaxValue, ErrorMessage = "{0} must be at least 1 MiB (1048576).")]
    public long MemoryLimitBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// Events that purge cache tags, by wire name, e.g. <c>{ "ProductChanged.v1": ["products"] }</c>: when one arrives,
    /// every entry with those tags is dropped on every instance (see <see cref="CachePurgeEvents"/> for the events known).
    /// Read at start-up; used only when a broker or the store is configured.
    /// </summary>
    public IReadOnlyDictionary<string, string[]> PurgeOn { get; init; } = new Dictionary<string, string[]>(StringComparer.Ordinal);

    /// <summary>The queue the gateway's instances share for <see cref="PurgeOn"/>: one instance handles each event, the store tells the others.</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9._-]{1,200}$", ErrorMessage = "{0} must be 1 to 200 letters, digits, '.', '-' or '_'.")]
    public string PurgeQueue { get; init; } = "gateway.cache-purge";

    /// <summary>Each <see cref="PurgeOn"/> entry names an event the gateway knows and at least one tag.</summary>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        foreach (var (messageType, tags) in PurgeOn)
        {
            var path = $"{SectionName}:{nameof(PurgeOn)}:{messageType}";
            if (!CachePurgeEvents.Registrations.ContainsKey(messageType))
            {
                yield return new ValidationResult($"{path}: '{messageType}' is not an event the gateway can purge on; known: {string.Join(", ", CachePurgeEvents.Registrations.Keys)}.");
            }
            if (tags is null || tags.Length == 0)
            {
                yield return new ValidationResult($"{path} must name at least one tag.");
            }
            else if (tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > MaxNameLength))
            {
                yield return new ValidationResult($"{path}: every tag must be 1 to {MaxNameLength} characters.");
            }
        }
    }
}

/// <summary>
/// The two tiers: a size-bounded memory cache per instance, and the shared Redis-protocol store (when
/// <c>ConnectionStrings:store</c> is set) so instances share entries. A purge clears both and tells the other
/// instances, over pub/sub, to clear their memory tier too.
/// </summary>
internal sealed partial class CacheTiers : IHostedService, IDisposable
{
    private const string PurgeChannel = "portico:cache:purge";
    private static readonly TimeSpan IndexLifetime = TimeSpan.FromDays(1);

    private readonly MemoryCache _memory;
    private readonly GatewayStore _store;
    private readonly TimeProvider _time;
    private readonly CacheMetrics _metrics;
    private readonly ILogger<CacheTiers> _logger;
    private readonly RedisChannel _channel = RedisChannel.Literal(PurgeChannel);
    private readonly bool _purgeOnEvents;

    public CacheTiers(IOptions<CachingOptions> options, GatewayStore store, TimeProvider time, CacheMetrics metrics, ILogger<CacheTiers> logger)
    {
        _memory = new MemoryCache(new MemoryCacheOptions { SizeLimit = options.Value.MemoryLimitBytes, TrackStatistics = true });
        _store = store;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _purgeOnEvents = options.Value.PurgeOn.Count > 0;
        metrics.ObserveMemory(() => _memory.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0);
    }

    public long MemoryBytes => _memory.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;

    /// <summary>Listens for purges from other instances from the start, so none is missed.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_purgeOnEvents && !_store.IsConfigured)
        {
            Log.PurgeOnWithoutStore(_logger);
        }
        return _store.IsConfigured ? SubscribeAsync() : Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The memory tier alone, for the early hit step; a variant index leads to the request's variant.</summary>
    public bool TryGetMemory(string key, IHeaderDictionary request, [NotNullWhen(true)] out CacheEntry? entry)
    {
        if (!TryGetMemory(key, out entry))
        {
            return false;
        }
        return !entry.IsVariantIndex || TryGetMemory(CacheKey.VariantKey(key, CacheKey.Variant(entry.VaryNames, request)), out entry);
    }

    private bool TryGetMemory(string key, [NotNullWhen(true)] out CacheEntry? entry) => _memory.TryGetValue(key, out entry) && entry is not null;

    /// <summary>The stored answer for the request: the entry at the key, or, when answers there vary, the request's variant (RFC 9111 §4.1).</summary>
    public async ValueTask<CacheEntry?> GetAsync(string key, IHeaderDictionary request, CachePolicy policy)
    {
        var entry = await GetAsync(key, policy);
        return entry is { IsVariantIndex: true } ? await GetAsync(CacheKey.VariantKey(key, CacheKey.Variant(entry.VaryNames, request)), policy) : entry;
    }

    private async ValueTask<CacheEntry?> GetAsync(string key, CachePolicy policy)
    {
        if (TryGetMemory(key, out var entry))
        {
            return entry;
        }
        if (!policy.Shared || !_store.IsConfigured)
        {
            return null;
        }
        try
        {
            var data = (byte[]?)await _store.Database.StringGetAsync(CacheKey.StoreKey(key));
            entry = data is null ? null : CacheEntry.Deserialize(data);
            if (entry is not null && entry.ExpiresAt > _time.GetUtcNow())
            {
                SetMemory(key, entry);
                return entry;
            }
        }
        catch (RedisException ex)
        {
            Log.StoreFailed(_logger, "read", ex.Message);
        }
        return null;
    }

    /// <summary>Stores an answer; one that varies goes under its variant's key, with a variant index at the key (RFC 9111 §4.1).</summary>
    public async ValueTask SetAsync(string key, CacheEntry entry, CachePolicy policy)
    {
        if (entry.VaryNames.Length != 0)
        {
            var at = entry.ExpiresAt;
            var index = new CacheEntry
            {
                Status = 0, Headers = [], Body = [], RouteId = entry.RouteId, Tags = entry.Tags, StoredAt = entry.StoredAt,
                FreshUntil = at, StaleWhileRevalidateUntil = at, StaleIfErrorUntil = at, Target = entry.Target, VaryNames = entry.VaryNames,
            };
            await SetOneAsync(key, index, policy);
            key = CacheKey.VariantKey(key, entry.Variant);
        }
        await SetOneAsync(key, entry, policy);
    }

    private async ValueTask SetOneAsync(string key, CacheEntry entry, CachePolicy policy)
    {
        SetMemory(key, entry);
        if (!policy.Shared || !_store.IsConfigured)
        {
            return;
        }
        var lifetime = entry.ExpiresAt - _time.GetUtcNow();
        if (lifetime <= TimeSpan.Zero)
        {
            return;
        }
        try
        {
            var storeKey = CacheKey.StoreKey(key);
            var batch = _store.Database.CreateBatch();
            var tasks = new List<Task>
            {
                batch.StringSetAsync(storeKey, entry.Serialize(), lifetime),
                batch.SetAddAsync(RouteIndex(entry.RouteId), storeKey),
                batch.KeyExpireAsync(RouteIndex(entry.RouteId), IndexLifetime),
                batch.SetAddAsync(UriIndex(entry.Target), storeKey),
                batch.KeyExpireAsync(UriIndex(entry.Target), IndexLifetime),
            };
            foreach (var tag in entry.Tags)
            {
                tasks.Add(batch.SetAddAsync(TagIndex(tag), storeKey));
                tasks.Add(batch.KeyExpireAsync(TagIndex(tag), IndexLifetime));
            }
            batch.Execute();
            await Task.WhenAll(tasks);
        }
        catch (RedisException ex)
        {
            Log.StoreFailed(_logger, "write", ex.Message);
        }
    }

    /// <summary>
    /// Removes every entry of a route or with a tag, here, in the store and in the other instances' memory. A store that
    /// fails is logged and the local purge stands, unless <paramref name="throwOnStoreFailure"/> (an event's purge, which
    /// is then retried rather than acknowledged with the other instances left stale).
    /// </summary>
    public async Task<int> PurgeAsync(string? routeId, string? tag, bool throwOnStoreFailure = false)
    {
        var removed = PurgeMemory(routeId, tag);
        if (_store.IsConfigured)
        {
            try
            {
                var db = _store.Database;
                var indexes = new List<RedisKey>(2);
                if (routeId is not null)
                {
                    indexes.Add(RouteIndex(routeId));
                }
                if (tag is not null)
                {
                    indexes.Add(TagIndex(tag));
                }
                foreach (var index in indexes)
                {
                    var members = await db.SetMembersAsync(index);
                    if (members.Length > 0)
                    {
                        await db.KeyDeleteAsync(members.Select(m => (RedisKey)(string)m!).ToArray());
                    }
                    await db.KeyDeleteAsync(index);
                }
                await _store.Subscriber.PublishAsync(_channel, routeId is not null ? "route:" + routeId : "tag:" + tag);
            }
            catch (RedisException ex) when (!throwOnStoreFailure)
            {
                Log.StoreFailed(_logger, "purge", ex.Message);
            }
        }
        return removed;
    }

    /// <summary>
    /// Removes every answer to a target under <paramref name="pathPrefix"/> (a path, matched segment by segment: <c>/api/p</c>
    /// does not take <c>/api/products</c>), here, in the store and in the other instances' memory. The store holds no index
    /// by prefix, so its entries are found through the route indexes and read: an operator's purge, not a request's.
    /// </summary>
    public async Task<int> PurgePrefixAsync(string pathPrefix)
    {
        var removed = PurgeMemoryPrefix(pathPrefix);
        if (!_store.IsConfigured)
        {
            return removed;
        }
        try
        {
            var db = _store.Database;
            foreach (var server in db.Multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica))
            {
                await foreach (var index in server.KeysAsync(pattern: "portico:cache:idx:route:*"))
                {
                    foreach (var member in await db.SetMembersAsync(index))
                    {
                        var key = (RedisKey)(string)member!;
                        var data = (byte[]?)await db.StringGetAsync(key);
                        if (data is not null && CacheEntry.Deserialize(data) is { } entry && UnderPrefix(entry.Target, pathPrefix))
                        {
                            await db.KeyDeleteAsync(key);
                            await db.SetRemoveAsync(index, member);
                        }
                    }
                }
            }
            await _store.Subscriber.PublishAsync(_channel, "prefix:" + pathPrefix);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.StoreFailed(_logger, "purge", ex.Message);
        }
        return removed;
    }

    /// <summary>What this instance's memory tier holds for each route: answers (not variant indexes) and their bytes.</summary>
    public IReadOnlyDictionary<string, (int Entries, long Bytes)> MemoryUsageByRoute()
    {
        var usage = new Dictionary<string, (int Entries, long Bytes)>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in _memory.Keys)
        {
            if (_memory.TryGetValue(key, out CacheEntry? entry) && entry is { IsVariantIndex: false })
            {
                var (entries, bytes) = usage.GetValueOrDefault(entry.RouteId);
                usage[entry.RouteId] = (entries + 1, bytes + entry.Size);
            }
        }
        return usage;
    }

    private static bool UnderPrefix(string target, string prefix)
    {
        var path = target.AsSpan(0, target.IndexOf('?') is var q and >= 0 ? q : target.Length);
        var trimmed = prefix.TrimEnd('/');
        return path.StartsWith(trimmed, StringComparison.OrdinalIgnoreCase) && (path.Length == trimmed.Length || path[trimmed.Length] == '/' || trimmed.Length == 0);
    }

    private int PurgeMemoryPrefix(string prefix)
    {
        var removed = 0;
        foreach (var target in _keysByTarget.Keys.Where(t => UnderPrefix(t, prefix)).ToList())
        {
            if (!_keysByTarget.TryGetValue(target, out var keys))
            {
                continue;
            }
            string[] held;
            lock (keys)
            {
                held = [.. keys];
            }
            foreach (var key in held)
            {
                if (_memory.TryGetValue(key, out CacheEntry? entry) && entry is not null)
                {
                    _memory.Remove(key);
                    removed += entry.IsVariantIndex ? 0 : 1;
                }
            }
        }
        return removed;
    }

    /// <summary>
    /// RFC 9111 §4.4: drops every stored answer (all variants, all users) to a GET of these targets, here, in the store and,
    /// over pub/sub, in the other instances' memory.
    /// </summary>
    public async Task InvalidateAsync(IReadOnlyCollection<string> targets)
    {
        PurgeMemoryTargets(targets);
        if (!_store.IsConfigured)
        {
            return;
        }
        try
        {
            var db = _store.Database;
            foreach (var target in targets)
            {
                var members = await db.SetMembersAsync(UriIndex(target));
                if (members.Length > 0)
                {
                    await db.KeyDeleteAsync(members.Select(m => (RedisKey)(string)m!).ToArray());
                }
                await db.KeyDeleteAsync(UriIndex(target));
                await _store.Subscriber.PublishAsync(_channel, "uri:" + target);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // RedisTimeoutException is a TimeoutException: the answer goes on; other instances keep entries until they expire.
            Log.StoreFailed(_logger, "invalidate", ex.Message);
        }
    }

    private void PurgeMemoryTargets(IReadOnlyCollection<string> targets)
    {
        foreach (var target in targets)
        {
            if (!_keysByTarget.TryGetValue(target, out var keys))
            {
                continue;
            }
            string[] held;
            lock (keys)
            {
                held = [.. keys];
            }
            foreach (var key in held)
            {
                _memory.Remove(key); // the eviction callback takes it out of the index
            }
        }
    }

    /// <summary>
    /// The memory keys stored for each target, so an unsafe request (which any route may see often) invalidates by
    /// lookup instead of a walk over the whole memory tier. Kept in step with the tier by its eviction callback.
    /// </summary>
    private readonly ConcurrentDictionary<string, HashSet<string>> _keysByTarget = new(StringComparer.Ordinal);

    /// <summary>Indexes the key and stores the entry under the index's lock, so a late eviction callback cannot unindex it.</summary>
    private void SetIndexed(string key, CacheEntry entry, MemoryCacheEntryOptions options)
    {
        while (true)
        {
            var keys = _keysByTarget.GetOrAdd(entry.Target, static _ => new HashSet<string>(StringComparer.Ordinal));
            lock (keys)
            {
                // A set emptied and dropped meanwhile is not the index any more: take the current one.
                if (_keysByTarget.TryGetValue(entry.Target, out var current) && ReferenceEquals(current, keys))
                {
                    keys.Add(key);
                    _memory.Set(key, entry, options);
                    return;
                }
            }
        }
    }

    private void Forget(string target, string key)
    {
        if (!_keysByTarget.TryGetValue(target, out var keys))
        {
            return;
        }
        lock (keys)
        {
            // Eviction callbacks run later, on the thread pool: the key may hold a newer entry by now.
            if (_memory.TryGetValue(key, out CacheEntry? current) && current?.Target == target)
            {
                return;
            }
            if (keys.Remove(key) && keys.Count == 0)
            {
                _keysByTarget.TryRemove(new KeyValuePair<string, HashSet<string>>(target, keys));
            }
        }
    }

    private int PurgeMemory(string? routeId, string? tag)
    {
        var removed = 0;
        foreach (var key in _memory.Keys)
        {
            if (_memory.TryGetValue(key, out CacheEntry? entry) && entry is not null
                && ((routeId is not null && entry.RouteId.Equals(routeId, StringComparison.OrdinalIgnoreCase))
                    || (tag is not null && entry.Tags.Contains(tag, StringComparer.OrdinalIgnoreCase))))
            {
                _memory.Remove(key);
                removed += entry.IsVariantIndex ? 0 : 1; // answers are counted, not the indexes of their variants
            }
        }
        return removed;
    }

    private void SetMemory(string key, CacheEntry entry)
    {
        var options = new MemoryCacheEntryOptions { Size = entry.Size, AbsoluteExpiration = entry.ExpiresAt };
        options.RegisterPostEvictionCallback(static (key, value, reason, state) =>
        {
            var tiers = (CacheTiers)state!;
            if (reason == EvictionReason.Capacity)
            {
                tiers._metrics.Evicted();
            }
            // A replaced entry's key stays indexed under the same target (the key holds the path and query).
            if (reason != EvictionReason.Replaced && value is CacheEntry gone)
            {
                tiers.Forget(gone.Target, (string)key);
            }
        }, this);
        SetIndexed(key, entry, options);
    }

    private async Task SubscribeAsync()
    {
        try
        {
            await _store.Subscriber.SubscribeAsync(_channel, (_, message) =>
            {
                var text = (string?)message ?? "";
                if (text.StartsWith("prefix:", StringComparison.Ordinal))
                {
                    PurgeMemoryPrefix(text[7..]);
                    return;
                }
                if (text.StartsWith("uri:", StringComparison.Ordinal))
                {
                    PurgeMemoryTargets([text[4..]]);
                    return;
                }
                PurgeMemory(text.StartsWith("route:", StringComparison.Ordinal) ? text[6..] : null, text.StartsWith("tag:", StringComparison.Ordinal) ? text[4..] : null);
            });
        }
        catch (RedisException ex)
        {
            // The multiplexer restores subscriptions it holds when it reconnects; one that never started is logged.
            Log.StoreFailed(_logger, "subscribe", ex.Message);
        }
    }

    private static RedisKey RouteIndex(string routeId) => "portico:cache:idx:route:" + routeId.ToLowerInvariant();

    private static RedisKey UriIndex(string target) => "portico:cache:idx:uri:" + CacheKey.StoreKey(target)[16..];

    private static RedisKey TagIndex(string tag) => "portico:cache:idx:tag:" + tag.ToLowerInvariant();

    public void Dispose() => _memory.Dispose();

    private static partial class Log
    {
        [LoggerMessage(300, LogLevel.Warning, "Cache: the shared store failed to {Operation}; the memory tier carries on. {Reason}")]
        public static partial void StoreFailed(ILogger logger, string operation, string reason);

        [LoggerMessage(301, LogLevel.Warning, "Cache: Portico:Caching:PurgeOn is set but ConnectionStrings:store is not; an event's purge reaches one gateway instance at most, and none without a broker")]
        public static partial void PurgeOnWithoutStore(ILogger logger);
    }
}
