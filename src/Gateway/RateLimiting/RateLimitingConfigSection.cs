using Microsoft.Extensions.Configuration;
using Portico.Gateway.Configuration;
using Portico.Gateway.Store;

namespace Portico.Gateway.RateLimiting;

/// <summary>The rate-limit policy of each route, from one version of the gateway file.</summary>
internal sealed class RateLimitingSettings(IReadOnlyDictionary<string, RateLimitingSettings.NamedPolicy> policyByRoute, IReadOnlyDictionary<string, RateLimitPolicyOptions> policies)
{
    /// <summary>Route id → its policy; routes without one are absent.</summary>
    public IReadOnlyDictionary<string, NamedPolicy> PolicyByRoute { get; } = policyByRoute;

    public IReadOnlyDictionary<string, RateLimitPolicyOptions> Policies { get; } = policies;

    internal sealed record NamedPolicy(string Name, RateLimitPolicyOptions Options);
}

/// <summary>
/// Reads <c>Portico:RateLimiting:Policies</c> from the gateway file, checks every value, and every route's reference to
/// a policy (route metadata <c>Portico.RateLimit</c>).
/// </summary>
internal sealed class RateLimitingConfigSection(IConfiguration host) : IGatewayConfigSection
{
    public object Read(GatewayConfigContext context)
    {
        var policies = new Dictionary<string, RateLimitPolicyOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in context.File.GetSection(RateLimitPolicies.SectionPath).GetChildren())
        {
            try
            {
                var policy = section.Get<RateLimitPolicyOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new RateLimitPolicyOptions();
                Validate(section.Key, policy, context.Errors);
                policies[section.Key] = policy;
            }
            catch (InvalidOperationException ex)
            {
                context.Errors.Add($"Rate-limit policy '{section.Key}' cannot be read: {ex.Message}");
            }
        }

        var byRoute = new Dictionary<string, RateLimitingSettings.NamedPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var route in context.Routes)
        {
            // YARP's own RateLimiterPolicy names ASP.NET Core policies registered in code; a name of this file there is a
            // mistake YARP would report only as "not found".
            if (route.RateLimiterPolicy is { } yarpPolicy && policies.ContainsKey(yarpPolicy))
            {
                context.Errors.Add($"Route '{route.RouteId}' names rate-limit policy '{yarpPolicy}' of the gateway file with RateLimiterPolicy; "
                    + $"name it with the metadata \"{RateLimitPolicies.MetadataKey}\": \"{yarpPolicy}\" instead.");
            }
            if (route.Metadata?.GetValueOrDefault(RateLimitPolicies.MetadataKey) is not { } name)
            {
                continue;
            }
            if (policies.TryGetValue(name, out var options))
            {
                byRoute[route.RouteId] = new RateLimitingSettings.NamedPolicy(name, options);
            }
            else
            {
                context.Errors.Add($"Route '{route.RouteId}' uses unknown rate-limit policy '{name}'.");
            }
        }
        return new RateLimitingSettings(byRoute, policies);
    }

    private void Validate(string name, RateLimitPolicyOptions o, ICollection<string> errors)
    {
        var at = $"{RateLimitPolicies.SectionPath}:{name}";
        if (o.PermitLimit < 1)
        {
            errors.Add($"{at}:PermitLimit must be at least 1.");
        }
        if (o.QueueLimit < 0)
        {
            errors.Add($"{at}:QueueLimit must not be negative.");
        }
        if (o.Kind is RateLimitKind.FixedWindow or RateLimitKind.SlidingWindow && o.Window < TimeSpan.FromMilliseconds(100))
        {
            errors.Add($"{at}:Window must be at least 100 ms.");
        }
        if (o.Kind == RateLimitKind.SlidingWindow && o.SegmentsPerWindow < 1)
        {
            errors.Add($"{at}:SegmentsPerWindow must be at least 1.");
        }
        if (o.Kind == RateLimitKind.TokenBucket && (o.TokensPerPeriod < 1 || o.ReplenishmentPeriod <= TimeSpan.Zero))
        {
            errors.Add($"{at}: a token bucket needs TokensPerPeriod >= 1 and a positive ReplenishmentPeriod.");
        }
        if (o.Shared && o.Kind is not (RateLimitKind.FixedWindow or RateLimitKind.SlidingWindow))
        {
            errors.Add($"{at}:Shared works with FixedWindow and SlidingWindow only.");
        }
        if (o.Shared && string.IsNullOrWhiteSpace(host.GetConnectionString(GatewayStore.ConnectionName)))
        {
            errors.Add($"{at}:Shared needs ConnectionStrings:{GatewayStore.ConnectionName} in the host settings.");
        }
    }
}
