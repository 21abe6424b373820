using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;
using Portico.Gateway.Store;

namespace Portico.Gateway.RateLimiting;

/// <summary>
/// The rate-limit step of the proxy pipeline: the route's policy from the gateway file version in force. A route without
/// one costs a dictionary lookup. Each policy has one partitioned limiter, kept while the file leaves the policy as it
/// was and replaced when an edit changes it, so a new limit applies from the next request without a restart.
/// </summary>
internal sealed class RateLimitingMiddleware : IDisposable
{
    // A request may still hold a replaced limiter for the moment between looking it up and acquiring from it.
    private static readonly TimeSpan RetiredLimiterGrace = TimeSpan.FromMinutes(1);

    private readonly GatewayConfigProvider _config;
    private readonly GatewayStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, PolicyLimiter> _limiters = new(StringComparer.OrdinalIgnoreCase);
    private readonly IDisposable _pruning;

    public RateLimitingMiddleware(GatewayConfigProvider config, GatewayStore store, TimeProvider time, ILoggerFactory loggers)
    {
        _config = config;
        _store = store;
        _time = time;
        _logger = loggers.CreateLogger("Portico.Gateway.RateLimiting");
        _pruning = ChangeToken.OnChange(config.GetChangeToken, Prune);
    }

    public Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var route = context.GetRouteModel().Config.RouteId;
        return _config.GetSection<RateLimitingSettings>().PolicyByRoute.TryGetValue(route, out var policy)
            ? LimitAsync(context, LimiterFor(policy), next)
            : next();
    }

    private async Task LimitAsync(HttpContext context, PolicyLimiter limiter, Func<Task> next)
    {
        RateLimitLease lease;
        try
        {
            lease = await limiter.Limiter.AcquireAsync(context, 1, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client left while queued
        }
        using (lease)
        {
            if (lease.IsAcquired)
            {
                await next();
                return;
            }
            await RejectAsync(context, lease);
        }
    }

    /// <summary>429 problem+json with <c>Retry-After</c>; 503 when a shared policy that fails closed cannot reach the store.</summary>
    public static async Task RejectAsync(HttpContext context, RateLimitLease lease)
    {
        if (lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        if (lease.TryGetMetadata(SharedWindowRateLimiter.StoreUnavailable, out _))
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Rate limit unavailable",
                "The rate limit cannot be checked right now and this route fails closed; try again shortly.");
            return;
        }
        await GatewayProblems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests",
            "The rate limit of this route was reached; try again after the time in Retry-After.");
    }

    private PolicyLimiter LimiterFor(RateLimitingSettings.NamedPolicy policy)
    {
        if (_limiters.TryGetValue(policy.Name, out var current) && current.Options == policy.Options)
        {
            return current;
        }
        var created = new PolicyLimiter(policy.Options, RateLimitPartitions.Create(policy.Name, policy.Options, _store, _time, _logger));
        var winner = _limiters.AddOrUpdate(policy.Name, created, (_, existing) => existing.Options == policy.Options ? existing : created);
        if (!ReferenceEquals(winner, created))
        {
            created.Limiter.Dispose();
        }
        else if (current is not null)
        {
            Retire(current);
        }
        return winner;
    }

    /// <summary>After an accepted edit: limiters of removed or changed policies go.</summary>
    private void Prune()
    {
        var policies = _config.GetSection<RateLimitingSettings>().Policies;
        foreach (var (name, limiter) in _limiters)
        {
            if ((!policies.TryGetValue(name, out var options) || options != limiter.Options)
                && _limiters.TryRemove(new KeyValuePair<string, PolicyLimiter>(name, limiter)))
            {
                Retire(limiter);
            }
        }
    }

    private void Retire(PolicyLimiter limiter) =>
        _time.CreateTimer(static state => ((PartitionedRateLimiter<HttpContext>)state!).Dispose(), limiter.Limiter, RetiredLimiterGrace, Timeout.InfiniteTimeSpan);

    public void Dispose()
    {
        _pruning.Dispose();
        foreach (var limiter in _limiters.Values)
        {
            limiter.Limiter.Dispose();
        }
    }

    private sealed record PolicyLimiter(RateLimitPolicyOptions Options, PartitionedRateLimiter<HttpContext> Limiter);
}
