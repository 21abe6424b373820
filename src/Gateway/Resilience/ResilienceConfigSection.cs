using Microsoft.Extensions.Configuration;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Resilience;

/// <summary>The policies of one version of the gateway file, and which policy each route and cluster uses.</summary>
internal sealed class ResilienceSettings(IReadOnlyDictionary<string, ResiliencePolicy> policies, IReadOnlyDictionary<string, string> policyByRoute,
    IReadOnlyDictionary<string, string?> policyByCluster)
{
    public IReadOnlyDictionary<string, ResiliencePolicy> Policies { get; } = policies;

    /// <summary>Route id → policy name; routes with resilience turned off are absent.</summary>
    public IReadOnlyDictionary<string, string> PolicyByRoute { get; } = policyByRoute;

    /// <summary>
    /// The policy for calls the gateway makes to a cluster outside a proxied route (composition steps, transcoded
    /// calls, cache refreshes): the cluster's own <c>Portico.Resilience</c> metadata, else the default; null when the
    /// cluster turns resilience off.
    /// </summary>
    public string? PolicyForCluster(string clusterId) =>
        policyByCluster.TryGetValue(clusterId, out var name) ? name : ResiliencePolicies.Default;
}

/// <summary>Reads <c>Portico:Resilience:Policies</c> and checks every value and every reference to a policy.</summary>
internal sealed class ResilienceConfigSection : IGatewayConfigSection
{
    public const string SectionPath = "Portico:Resilience:Policies";

    public object Read(GatewayConfigContext context)
    {
        var policies = new Dictionary<string, ResiliencePolicy>(StringComparer.OrdinalIgnoreCase)
        {
            [ResiliencePolicies.Default] = ResiliencePolicies.BuiltInDefault,
        };
        foreach (var section in context.File.GetSection(SectionPath).GetChildren())
        {
            if (section.Key.Equals(ResiliencePolicies.None, StringComparison.OrdinalIgnoreCase))
            {
                context.Errors.Add($"Resilience policy name '{section.Key}' is reserved.");
                continue;
            }
            ResiliencePolicy? policy;
            try
            {
                policy = section.Get<ResiliencePolicy>(o => o.ErrorOnUnknownConfiguration = true) ?? new ResiliencePolicy();
            }
            catch (InvalidOperationException ex)
            {
                context.Errors.Add($"Resilience policy '{section.Key}' cannot be read: {ex.Message}");
                continue;
            }
            Validate(section.Key, policy, context.Errors);
            policies[section.Key] = policy;
        }

        var clusterPolicy = context.Clusters.ToDictionary(c => c.ClusterId, c => c.Metadata?.GetValueOrDefault(ResiliencePolicies.MetadataKey), StringComparer.OrdinalIgnoreCase);
        var byRoute = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var route in context.Routes)
        {
            var name = route.Metadata?.GetValueOrDefault(ResiliencePolicies.MetadataKey)
                ?? (route.ClusterId is null ? null : clusterPolicy.GetValueOrDefault(route.ClusterId))
                ?? ResiliencePolicies.Default;
            if (name.Equals(ResiliencePolicies.None, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!policies.ContainsKey(name))
            {
                context.Errors.Add($"Route '{route.RouteId}' uses unknown resilience policy '{name}'.");
                continue;
            }
            byRoute[route.RouteId] = name;
        }
        var byCluster = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (clusterId, name) in clusterPolicy)
        {
            if (name is null)
            {
                continue;
            }
            if (name.Equals(ResiliencePolicies.None, StringComparison.OrdinalIgnoreCase))
            {
                byCluster[clusterId] = null;
            }
            else if (policies.ContainsKey(name))
            {
                byCluster[clusterId] = name;
            }
            else
            {
                context.Errors.Add($"Cluster '{clusterId}' uses unknown resilience policy '{name}'.");
            }
        }
        return new ResilienceSettings(policies, byRoute, byCluster);
    }

    private static void Validate(string name, ResiliencePolicy p, ICollection<string> errors)
    {
        void Check(bool ok, string what)
        {
            if (!ok)
            {
                errors.Add($"Resilience policy '{name}': {what}.");
            }
        }

        Check(p.Timeout is null || p.Timeout > TimeSpan.Zero, "Timeout must be positive");
        Check(p.AttemptTimeout is null || p.AttemptTimeout > TimeSpan.Zero, "AttemptTimeout must be positive");
        Check(p.Timeout is null || p.AttemptTimeout is null || p.AttemptTimeout <= p.Timeout, "AttemptTimeout must not exceed Timeout");
        Check(p.Retry.MaxRetries is >= 0 and <= 10, "Retry.MaxRetries must be between 0 and 10");
        Check(p.Retry.BaseDelay >= TimeSpan.Zero && p.Retry.MaxDelay >= p.Retry.BaseDelay, "Retry delays must satisfy 0 <= BaseDelay <= MaxDelay");
        Check(p.Retry.BudgetRatio is >= 0 and <= 1, "Retry.BudgetRatio must be between 0 and 1");
        Check(p.Retry.BudgetMinRetries >= 0, "Retry.BudgetMinRetries must not be negative");
        Check(p.Retry.BudgetWindow >= TimeSpan.FromSeconds(1), "Retry.BudgetWindow must be at least 1 second");
        Check(p.Retry.MaxReplayBodySize is >= 0 and <= 1024 * 1024, "Retry.MaxReplayBodySize must be between 0 and 1 MiB");
        Check(p.CircuitBreaker.FailureRatio is > 0 and <= 1, "CircuitBreaker.FailureRatio must be in (0, 1]");
        Check(p.CircuitBreaker.MinimumThroughput >= 2, "CircuitBreaker.MinimumThroughput must be at least 2");
        Check(p.CircuitBreaker.SamplingDuration >= TimeSpan.FromMilliseconds(500), "CircuitBreaker.SamplingDuration must be at least 500 ms");
        Check(p.CircuitBreaker.BreakDuration >= TimeSpan.FromMilliseconds(500), "CircuitBreaker.BreakDuration must be at least 500 ms");
        if (p.Concurrency is { } c)
        {
            Check(c.Limit >= 1, "Concurrency.Limit must be at least 1");
            Check(c.QueueLimit >= 0, "Concurrency.QueueLimit must not be negative");
            Check(c.QueueTimeout >= TimeSpan.Zero, "Concurrency.QueueTimeout must not be negative");
        }
    }
}
