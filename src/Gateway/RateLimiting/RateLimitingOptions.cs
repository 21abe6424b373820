namespace Portico.Gateway.RateLimiting;

/// <summary>
/// Names of the gateway file's rate limiting: policies under <see cref="SectionPath"/>, picked per route with the route
/// metadata <see cref="MetadataKey"/>, as cache and resilience policies are. Both are hot-reloaded with the file.
/// </summary>
public static class RateLimitPolicies
{
    public const string SectionPath = "Portico:RateLimiting:Policies";

    public const string MetadataKey = "Portico.RateLimit";
}

public enum RateLimitKind
{
    FixedWindow,
    SlidingWindow,
    TokenBucket,
    Concurrency,
}

public enum RateLimitPartitionBy
{
    /// <summary>The token's subject; callers without a token are counted by address.</summary>
    User,
    ClientAddress,
}

public enum RateLimitFailMode
{
    /// <summary>The shared store is down: let requests through (availability over strictness).</summary>
    Open,

    /// <summary>The shared store is down: refuse with 503 (strictness over availability).</summary>
    Closed,
}

/// <summary>
/// One named policy of <c>Portico:RateLimiting:Policies</c> in the gateway file. A record: an edit of the file that leaves
/// a policy as it was keeps its counters, one that changes it starts the policy afresh with the new values.
/// </summary>
public sealed record RateLimitPolicyOptions
{
    public RateLimitKind Kind { get; init; } = RateLimitKind.FixedWindow;

    /// <summary>Requests per window, bucket size, or requests in flight, by kind.</summary>
    public int PermitLimit { get; init; } = 100;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    public int SegmentsPerWindow { get; init; } = 6;

    public int TokensPerPeriod { get; init; } = 10;

    public TimeSpan ReplenishmentPeriod { get; init; } = TimeSpan.FromSeconds(1);

    public int QueueLimit { get; init; }

    public RateLimitPartitionBy PartitionBy { get; init; } = RateLimitPartitionBy.User;

    /// <summary>
    /// Count in the shared Redis-protocol store (<c>ConnectionStrings:store</c>) so every gateway instance
    /// enforces one limit. Window kinds only: a token bucket or a concurrency limit is per instance.
    /// </summary>
    public bool Shared { get; init; }

    /// <summary>
    /// What a <see cref="Shared"/> policy does while the shared store cannot be reached: <c>Open</c> (the default) lets
    /// requests through uncounted, <c>Closed</c> refuses them with 503. Choose per policy: a policy that protects
    /// something costly or guessable — the <c>auth</c> policy in front of logins — must be <c>Closed</c>, or taking
    /// the store down lifts it; a policy that only evens out load may stay <c>Open</c>.
    /// </summary>
    public RateLimitFailMode FailMode { get; init; } = RateLimitFailMode.Open;
}
