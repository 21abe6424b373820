using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Resilience;

/// <summary>Whether an attempt counts against its destination's circuit breaker.</summary>
internal enum AttemptResult
{
    Succeeded,
    Failed,
}

/// <summary>
/// The live state of one policy applied to one cluster: its retry budget, its bulkhead, and one circuit
/// breaker per destination. An open breaker marks its destination passively unhealthy for the break
/// duration, which takes it out of YARP's load balancing; when that ends, the next request is the probe.
/// </summary>
internal sealed class ClusterResilience : IDisposable
{
    private readonly ConcurrentDictionary<DestinationState, Breaker> _breakers = new();
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
    public ResiliencePipeline<AttemptResult>? BreakerFor(DestinationState destination) =>
        Policy.CircuitBreaker.Enabled ? _breakers.GetOrAdd(destination, static (d, self) => self.CreateBreaker(d), this).Pipeline : null;

    /// <summary>Breaker state per destination, for the admin API.</summary>
    public IEnumerable<(string DestinationId, CircuitState State)> BreakerStates() =>
        _breakers.Select(b => (b.Key.DestinationId, b.Value.State.CircuitState));

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

    private Breaker CreateBreaker(DestinationState destination)
    {
        var options = Policy.CircuitBreaker;
        var breaker = new Breaker();
        breaker.Pipeline = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = _time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<AttemptResult>
            {
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = options.SamplingDuration,
                BreakDuration = options.BreakDuration,
                StateProvider = breaker.State,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result == AttemptResult.Failed || args.Outcome.Exception is not null),
                OnOpened = args =>
                {
                    breaker.OpenUntil = _time.GetUtcNow() + args.BreakDuration;
                    _healthUpdater.SetPassive(_cluster, destination, DestinationHealth.Unhealthy, args.BreakDuration);
                    _metrics.BreakerTransition(ClusterId, "open");
                    ResilienceLog.BreakerOpened(_logger, ClusterId, destination.DestinationId, args.BreakDuration);
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    _metrics.BreakerTransition(ClusterId, "half-open");
                    ResilienceLog.BreakerHalfOpened(_logger, ClusterId, destination.DestinationId);
                    return default;
                },
                OnClosed = _ =>
                {
                    breaker.OpenUntil = null;
                    _metrics.BreakerTransition(ClusterId, "closed");
                    ResilienceLog.BreakerClosed(_logger, ClusterId, destination.DestinationId);
                    return default;
                },
            })
            .Build();
        return breaker;
    }

    public void Dispose() => Bulkhead?.Dispose();

    private sealed class Breaker
    {
        public CircuitBreakerStateProvider State { get; } = new();
        public ResiliencePipeline<AttemptResult> Pipeline { get; set; } = null!;
        public DateTimeOffset? OpenUntil { get; set; }
    }
}
