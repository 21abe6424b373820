using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Resilience;

/// <summary>
/// The live state of one policy applied to one cluster: its retry budget, its bulkhead, and one circuit
/// breaker per destination. An open breaker marks its destination passively unhealthy for the break
/// duration, which takes it out of YARP's load balancing; when that ends, the next request is the probe.
/// </summary>
internal sealed class ClusterResilience : IDisposable
{
    private readonly ConcurrentDictionary<DestinationState, DestinationBreaker> _breakers = new();
    private readonly ClusterState _cluster;
    private readonly IDestinationHealthUpdater _healthUpdater;
    private readonly TimeProvider _time;
    private readonly ResilienceMetrics _metrics;
    private readonly ILogger _logger;

    public ClusterResilience(string policyName, ResiliencePolicy policy, ClusterState cluster, IDestinationHealthUpdater healthUpdater,
        TimeProvider time, ResilienceMetrics metrics, ILogger logger)
    {
        PolicyName = policyName;
        Policy = policy;
        _cluster = cluster;
        _healthUpdater = healthUpdater;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        Budget = new RetryBudget(policy.Retry, time);
        if (policy.Concurrency is { } concurrency)
        {
            Bulkhead = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
            {
                PermitLimit = concurrency.Limit,
                QueueLimit = concurrency.QueueLimit,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            });
        }
    }

    public string PolicyName { get; }
    public ResiliencePolicy Policy { get; }
    public string ClusterId => _cluster.ClusterId;
    public RetryBudget Budget { get; }
    public ConcurrencyLimiter? Bulkhead { get; }

    /// <summary>The breaker of <paramref name="destination"/>, created on first use; null when breakers are off.</summary>
    public DestinationBreaker? BreakerFor(DestinationState destination) =>
        Policy.CircuitBreaker.Enabled ? _breakers.GetOrAdd(destination, static (d, self) => self.CreateBreaker(d), this) : null;

    /// <summary>Breaker state per destination, for the admin API.</summary>
    public IEnumerable<(string DestinationId, CircuitState State)> BreakerStates() =>
        _breakers.Select(b => (b.Key.DestinationId, b.Value.State));

    /// <summary>
    /// Closes the breakers of a destination (an operator's reset) and takes back the passive unhealthy mark their opening
    /// set. <paramref name="destinationId"/> is a resolved id or the gateway file's (every address it resolved to); how
    /// many breakers there were.
    /// </summary>
    public async Task<int> ResetBreakersAsync(string destinationId)
    {
        var reset = 0;
        foreach (var (destination, breaker) in _breakers)
        {
            if (destination.DestinationId == destinationId || destination.DestinationId.StartsWith(destinationId + "[", StringComparison.Ordinal))
            {
                await breaker.ResetAsync();
                _healthUpdater.SetPassive(_cluster, destination, DestinationHealth.Unknown, TimeSpan.Zero);
                reset++;
            }
        }
        return reset;
    }

    /// <summary>When the earliest open breaker lets a probe through; null when none is open.</summary>
    public DateTimeOffset? EarliestReopen()
    {
        DateTimeOffset? earliest = null;
        foreach (var breaker in _breakers.Values)
        {
            if (breaker.OpenUntil is { } until && (earliest is null || until < earliest))
            {
                earliest = until;
            }
        }
        return earliest;
    }

    private DestinationBreaker CreateBreaker(DestinationState destination) =>
        new(Policy.CircuitBreaker, _time, (state, breakDuration) =>
        {
            switch (state)
            {
                case CircuitState.Open:
                    // Out of load balancing for the break; when it ends, the next request is the probe.
                    _healthUpdater.SetPassive(_cluster, destination, DestinationHealth.Unhealthy, breakDuration);
                    ResilienceLog.BreakerOpened(_logger, ClusterId, destination.DestinationId, breakDuration);
                    break;
                case CircuitState.HalfOpen:
                    ResilienceLog.BreakerHalfOpened(_logger, ClusterId, destination.DestinationId);
                    break;
                default:
                    ResilienceLog.BreakerClosed(_logger, ClusterId, destination.DestinationId);
                    break;
            }
            _metrics.BreakerTransition(ClusterId, state switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half-open", _ => "closed" });
        });

    public void Dispose() => Bulkhead?.Dispose();
}
