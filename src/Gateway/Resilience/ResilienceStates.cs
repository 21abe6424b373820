using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Resilience;

/// <summary>
/// Holds the <see cref="ClusterResilience"/> of every (policy, cluster) pair in use. A pair whose policy
/// changed in a reload starts afresh; one that did not keeps its breakers and budget.
/// </summary>
internal sealed class ResilienceStates(IDestinationHealthUpdater healthUpdater, TimeProvider time, ResilienceMetrics metrics, ILogger<ResilienceStates> logger)
{
    private readonly ConcurrentDictionary<(string Policy, string Cluster), ClusterResilience> _states = new();

    public ClusterResilience Get(string policyName, ResiliencePolicy policy, ClusterState cluster)
    {
        var key = (policyName, cluster.ClusterId);
        if (_states.TryGetValue(key, out var state) && state.Policy == policy)
        {
            return state;
        }
        // A replaced state is not disposed: requests in flight may still hold its bulkhead leases.
        var fresh = new ClusterResilience(policyName, policy, cluster, healthUpdater, time, metrics, logger);
        return _states.AddOrUpdate(key, fresh, (_, old) => old.Policy == policy ? old : fresh);
    }

    public IEnumerable<ClusterResilience> All => _states.Values;

    /// <summary>Closes a destination's breaker under every policy that holds one; how many there were.</summary>
    public async Task<int> ResetBreakerAsync(string clusterId, string destinationId)
    {
        var reset = 0;
        foreach (var state in _states.Values.Where(s => string.Equals(s.ClusterId, clusterId, StringComparison.OrdinalIgnoreCase)))
        {
            reset += await state.ResetBreakersAsync(destinationId);
        }
        return reset;
    }
}
