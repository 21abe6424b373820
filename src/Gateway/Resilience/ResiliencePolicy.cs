namespace Portico.Gateway.Resilience;

/// <summary>
/// A named resilience policy from <c>Portico:Resilience:Policies</c> in the gateway file. A route names one in
/// its metadata (<c>"Portico.Resilience": "name"</c>), else its cluster does, else <c>default</c> applies;
/// <c>none</c> turns resilience off for that route.
/// </summary>
public sealed record ResiliencePolicy
{
    /// <summary>
    /// Upper bound for the whole request, all attempts and backoff included. Null (the default): none beyond
    /// YARP's activity timeout (100 s of silence), because a timer per request is a measurable share of the
    /// proxy's cost (docs/benchmarks.md); set it on the policies of routes that need a bound.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// Time an attempt may take until the destination starts answering. Null: none (YARP's activity timeout still
    /// applies); the built-in <c>default</c> policy sets 10 s.
    /// </summary>
    public TimeSpan? AttemptTimeout { get; init; }

    public RetryPolicy Retry { get; init; } = new();

    public CircuitBreakerPolicy CircuitBreaker { get; init; } = new();

    /// <summary>Bulkhead per cluster; null means no limit.</summary>
    public ConcurrencyPolicy? Concurrency { get; init; }
}

public sealed record RetryPolicy
{
    /// <summary>Retries after the first attempt; 0 disables retries (a refused connection still fails over).</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>First backoff; each next one doubles, with full jitter, up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(25);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Retries may add at most this share of the requests seen over <see cref="BudgetWindow"/>.</summary>
    public double BudgetRatio { get; init; } = 0.1;

    /// <summary>Retries always allowed per window, so a quiet cluster can still retry.</summary>
    public int BudgetMinRetries { get; init; } = 10;

    public TimeSpan BudgetWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bodies up to this size are kept in memory so they can be replayed; bigger ones are never retried.</summary>
    public int MaxReplayBodySize { get; init; } = 64 * 1024;
}

public sealed record CircuitBreakerPolicy
{
    public bool Enabled { get; init; } = true;

    /// <summary>Share of failed attempts over <see cref="SamplingDuration"/> that opens a destination's breaker.</summary>
    public double FailureRatio { get; init; } = 0.5;

    public int MinimumThroughput { get; init; } = 20;

    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open breaker keeps its destination out of load balancing before a probe.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);
}

public sealed record ConcurrencyPolicy
{
    public int Limit { get; init; } = 100;

    public int QueueLimit { get; init; }

    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>Policy names with a meaning of their own, and the metadata key that picks a policy.</summary>
public static class ResiliencePolicies
{
    public const string MetadataKey = "Portico.Resilience";
    public const string Default = "default";
    public const string None = "none";

    /// <summary>
    /// The built-in <c>default</c> policy. It bounds each attempt at 10 s: a destination that accepts connections
    /// but never answers (a hung process, a dead instance behind a port proxy) would otherwise hold a request for
    /// YARP's 100 s activity timeout instead of letting it go to a healthy destination.
    /// </summary>
    public static ResiliencePolicy BuiltInDefault { get; } = new() { AttemptTimeout = TimeSpan.FromSeconds(10) };
}
