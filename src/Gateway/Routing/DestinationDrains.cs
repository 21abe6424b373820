using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Routing;

/// <summary>
/// Destinations taken out of load balancing by an operator (a deploy): no new request or call goes to a drained
/// destination, while those already sent to it finish. Drained destinations leave the cluster's available
/// destinations themselves (every cluster's policy is wrapped by <see cref="DrainingDestinationsPolicy"/>), so proxied
/// requests, retries and the gateway's own calls all skip them with no step of their own. Kept per gateway instance
/// by (cluster, destination) id, so a drain outlives a reload of the gateway file. The id is the one in the gateway file
/// (<c>catalog-a</c>, which drains every address service discovery resolved it to, <c>catalog-a[127.0.0.1:5001]</c> …)
/// or one resolved id.
/// </summary>
internal sealed class DestinationDrains(IServiceProvider services)
{
    private readonly ConcurrentDictionary<(string Cluster, string Destination), DateTimeOffset> _drained = new();
    private volatile bool _any;

    /// <summary>Drained (cluster, destination) pairs, with when each was drained.</summary>
    public IReadOnlyDictionary<(string Cluster, string Destination), DateTimeOffset> Drained => _drained;

    public bool IsDrained(string clusterId, string destinationId) =>
        _any && (_drained.ContainsKey((clusterId, destinationId)) || _drained.ContainsKey((clusterId, ConfiguredId(destinationId))));

    /// <summary>The id in the gateway file of a destination service discovery resolved (<c>a[127.0.0.1:5001]</c> → <c>a</c>).</summary>
    private static string ConfiguredId(string destinationId) =>
        destinationId.EndsWith(']') && destinationId.IndexOf('[', StringComparison.Ordinal) is var open and > 0 ? destinationId[..open] : destinationId;

    /// <summary>Drains a destination; false when the cluster or the destination is unknown.</summary>
    public bool Drain(string clusterId, string destinationId, DateTimeOffset at) =>
        Change(clusterId, destinationId, () => _drained.TryAdd((clusterId, destinationId), at));

    /// <summary>Puts a destination back into load balancing; false when the cluster or the destination is unknown.</summary>
    public bool Undrain(string clusterId, string destinationId) =>
        Change(clusterId, destinationId, () => _drained.TryRemove((clusterId, destinationId), out _));

    private bool Change(string clusterId, string destinationId, Func<bool> change)
    {
        // Both resolved late: the proxy's state and YARP's updater take the (wrapped) policies, which take this class.
        if (!services.GetRequiredService<IProxyStateLookup>().TryGetCluster(clusterId, out var cluster)
            || !cluster.Destinations.Keys.Any(id => id == destinationId || ConfiguredId(id) == destinationId))
        {
            return false;
        }
        change();
        _any = !_drained.IsEmpty;
        services.GetRequiredService<IClusterDestinationsUpdater>().UpdateAvailableDestinations(cluster);
        return true;
    }

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
