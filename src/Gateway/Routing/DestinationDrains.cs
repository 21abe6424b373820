using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Store;
using StackExchange.Redis;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Routing;

/// <summary>
/// Destinations taken out of load balancing by an operator (a deploy): no new request or call goes to a drained
/// destination, while those already sent to it finish. Drained destinations leave the cluster's available
/// destinations themselves (every cluster's policy is wrapped by <see cref="DrainingDestinationsPolicy"/>), so proxied
/// requests, retries and the gateway's own calls all skip them with no step of their own. Kept by (cluster,
/// destination) id, so a drain outlives a reload of the gateway file. The id is the one in the gateway file
/// (<c>catalog-a</c>, which drains every address service discovery resolved it to, <c>catalog-a[127.0.0.1:5001]</c> …)
/// or one resolved id.
/// <para>
/// With the shared store (<c>ConnectionStrings:store</c>) a drain is every instance's: it is written to the store first
/// (a hash, so an instance that starts later, or reconnects, reads the drains in force) and announced on the store's
/// pub/sub, as cache purges are; each instance then reads the destination's entry and applies it. A store that does not
/// answer leaves the change out of force here too (the caller is told to try again), rather than this instance alone
/// drifting from the others. Pub/sub delivers at most once, so every instance also reads the whole hash again every
/// <see cref="ResyncInterval"/>: an announcement lost to a dropped subscription still takes effect within that time.
/// Without a store it is this instance's alone (<see cref="IsShared"/>).
/// </para>
/// </summary>
internal sealed partial class DestinationDrains(IServiceProvider services, GatewayStore store, TimeProvider time, ILogger<DestinationDrains> logger)
    : IHostedService, IDisposable
{
    /// <summary>How often each instance reads every drain in force from the store, whatever it was told.</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(30);

    private const string StoreKey = "portico:drains";
    private static readonly RedisChannel Changed = RedisChannel.Literal("portico:drains:changed");

    private readonly ConcurrentDictionary<(string Cluster, string Destination), DateTimeOffset> _drained = new();
    private volatile bool _any;
    private int _version; // changes applied here; a full read that saw an older state applies nothing
    private ITimer? _resync;

    /// <summary>Drained (cluster, destination) pairs, with when each was drained.</summary>
    public IReadOnlyDictionary<(string Cluster, string Destination), DateTimeOffset> Drained => _drained;

    /// <summary>A drain reaches every gateway instance (through the store), not only this one.</summary>
    public bool IsShared => store.IsConfigured;

    public bool IsDrained(string clusterId, string destinationId) =>
        _any && (_drained.ContainsKey((clusterId, destinationId)) || _drained.ContainsKey((clusterId, ConfiguredId(destinationId))));

    /// <summary>The id in the gateway file of a destination service discovery resolved (<c>a[127.0.0.1:5001]</c> → <c>a</c>).</summary>
    private static string ConfiguredId(string destinationId) =>
        destinationId.EndsWith(']') && destinationId.IndexOf('[', StringComparison.Ordinal) is var open and > 0 ? destinationId[..open] : destinationId;

    /// <summary>
    /// Drains a destination, on every instance when <see cref="IsShared"/>; false when the cluster or the destination is
    /// unknown. Throws <see cref="RedisException"/> or <see cref="TimeoutException"/> when the store does not take it
    /// (nothing changed then).
    /// </summary>
    public Task<bool> DrainAsync(string clusterId, string destinationId, DateTimeOffset at) => ChangeAsync(clusterId, destinationId, at);

    /// <summary>Puts a destination back into load balancing; as <see cref="DrainAsync"/> otherwise.</summary>
    public Task<bool> UndrainAsync(string clusterId, string destinationId) => ChangeAsync(clusterId, destinationId, null);

    private async Task<bool> ChangeAsync(string clusterId, string destinationId, DateTimeOffset? drainedAt)
    {
        if (!services.GetRequiredService<IProxyStateLookup>().TryGetCluster(clusterId, out var cluster)
            || !cluster.Destinations.Keys.Any(id => id == destinationId || ConfiguredId(id) == destinationId))
        {
            return false;
        }
        if (store.IsConfigured)
        {
            // The store first: should it fail, no instance has changed. Every instance (this one too) applies the
            // entry it reads after the announcement; this one applies it now as well, so the caller sees it at once.
            var field = Field(clusterId, destinationId);
            var db = store.Database;
            _ = drainedAt is { } at
                ? await db.HashSetAsync(StoreKey, field, at.ToString("O", CultureInfo.InvariantCulture))
                : await db.HashDeleteAsync(StoreKey, field);
            await store.Subscriber.PublishAsync(Changed, field);
        }
        Apply(clusterId, destinationId, drainedAt);
        return true;
    }

    /// <summary>Puts one drain (a time) or undrain (null) in force here; the cluster, when this instance has it, is told.</summary>
    private void Apply(string clusterId, string destinationId, DateTimeOffset? drainedAt)
    {
        var changed = drainedAt is { } at ? _drained.TryAdd((clusterId, destinationId), at) : _drained.TryRemove((clusterId, destinationId), out _);
        _any = !_drained.IsEmpty;
        if (changed)
        {
            Interlocked.Increment(ref _version);
        }
        // Resolved late: the proxy's state and YARP's updater take the (wrapped) policies, which take this class.
        if (changed && services.GetRequiredService<IProxyStateLookup>().TryGetCluster(clusterId, out var cluster))
        {
            services.GetRequiredService<IClusterDestinationsUpdater>().UpdateAvailableDestinations(cluster);
        }
    }

    /// <summary>Listens for other instances' drains, then reads those in force; again whenever the store comes back.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!store.IsConfigured)
        {
            return;
        }
        _resync = time.CreateTimer(_ => _ = ReadAllAsync(), null, ResyncInterval, ResyncInterval);
        try
        {
            await store.Subscriber.SubscribeAsync(Changed, (channel, field) => { _ = ReadOneAsync(field.ToString()); });
            store.Database.Multiplexer.ConnectionRestored += (_, _) => _ = ReadAllAsync();
            await ReadAllAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The multiplexer keeps reconnecting; ConnectionRestored reads the drains then.
            Log.StoreFailed(logger, "read the drains in force", ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _resync?.Dispose();

    private async Task ReadOneAsync(string field)
    {
        try
        {
            if (Parse(field) is { } key)
            {
                var value = await store.Database.HashGetAsync(StoreKey, field);
                Apply(key.Cluster, key.Destination, value.IsNull ? null : ParseTime(value.ToString()));
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.StoreFailed(logger, "read a drain", ex.Message);
        }
    }

    /// <summary>The store holds the drains in force: those it has are applied, those it lacks are undone here.</summary>
    private async Task ReadAllAsync()
    {
        try
        {
            var seen = Volatile.Read(ref _version);
            var entries = await store.Database.HashGetAllAsync(StoreKey);
            if (Volatile.Read(ref _version) != seen)
            {
                return; // a change landed while reading: what was read may predate it (the next read catches up)
            }
            var inForce = new HashSet<(string, string)>();
            foreach (var entry in entries)
            {
                if (Parse(entry.Name.ToString()) is { } key)
                {
                    inForce.Add(key);
                    Apply(key.Cluster, key.Destination, ParseTime(entry.Value.ToString()));
                }
            }
            foreach (var key in _drained.Keys.Where(k => !inForce.Contains(k)).ToList())
            {
                Apply(key.Cluster, key.Destination, null);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.StoreFailed(logger, "read the drains in force", ex.Message);
        }
    }

    /// <summary>A hash field: the ids as a JSON array, so no id can be mistaken for a separator.</summary>
    private static string Field(string clusterId, string destinationId) => JsonSerializer.Serialize(new[] { clusterId, destinationId });

    private static (string Cluster, string Destination)? Parse(string field)
    {
        try
        {
            return JsonSerializer.Deserialize<string[]>(field) is [var cluster, var destination] ? (cluster, destination) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) ? at : DateTimeOffset.UnixEpoch;

    /// <summary>The available destinations a policy chose, without the drained ones; the same list when none is drained.</summary>
    public IReadOnlyList<DestinationState> Filter(ClusterConfig cluster, IReadOnlyList<DestinationState> available)
    {
        if (!_any)
        {
            return available;
        }
        var kept = new List<DestinationState>(available.Count);
        foreach (var destination in available)
        {
            if (!IsDrained(cluster.ClusterId, destination.DestinationId))
            {
                kept.Add(destination);
            }
        }
        return kept;
    }

    private static partial class Log
    {
        [LoggerMessage(2450, LogLevel.Warning, "Drains: the shared store failed to {Operation}; drains made meanwhile on other instances are read when it is back. {Reason}")]
        public static partial void StoreFailed(ILogger logger, string operation, string reason);
    }
}

/// <summary>A cluster's available-destinations policy (YARP's, by its name), minus the drained destinations.</summary>
internal sealed class DrainingDestinationsPolicy(IAvailableDestinationsPolicy inner, DestinationDrains drains) : IAvailableDestinationsPolicy
{
    public string Name => inner.Name;

    public IReadOnlyList<DestinationState> GetAvailalableDestinations(ClusterConfig config, IReadOnlyList<DestinationState> allDestinations) =>
        drains.Filter(config, inner.GetAvailalableDestinations(config, allDestinations));
}

internal static class DestinationDrainsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="DestinationDrains"/> and wraps every available-destinations policy registered so far (YARP's
    /// own and any added before), keeping each one's name. Call after everything that adds such policies.
    /// </summary>
    public static IServiceCollection AddPorticoDraining(this IServiceCollection services)
    {
        services.AddSingleton<DestinationDrains>();
        services.AddHostedService(sp => sp.GetRequiredService<DestinationDrains>());
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IAvailableDestinationsPolicy) || descriptor.IsKeyedService)
            {
                continue;
            }
            services[i] = ServiceDescriptor.Singleton<IAvailableDestinationsPolicy>(sp =>
                new DrainingDestinationsPolicy(Create(sp, descriptor), sp.GetRequiredService<DestinationDrains>()));
        }
        return services;
    }

    private static IAvailableDestinationsPolicy Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IAvailableDestinationsPolicy)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
