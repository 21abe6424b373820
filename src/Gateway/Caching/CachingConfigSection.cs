using Microsoft.Extensions.Configuration;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Caching;

/// <summary>The cache policy of each route, from one version of the gateway file.</summary>
internal sealed class CachingSettings(IReadOnlyDictionary<string, (string Name, CachePolicy Policy)> policyByRoute)
{
    public IReadOnlyDictionary<string, (string Name, CachePolicy Policy)> PolicyByRoute { get; } = policyByRoute;
}

/// <summary>Reads <c>Portico:Caching:Policies</c> and every route's reference to them.</summary>
internal sealed class CachingConfigSection : IGatewayConfigSection
{
    public const string SectionPath = "Portico:Caching:Policies";

    public object Read(GatewayConfigContext context)
    {
        var policies = new Dictionary<string, CachePolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in context.File.GetSection(SectionPath).GetChildren())
        {
            try
            {
                var policy = section.Get<CachePolicy>(o => o.ErrorOnUnknownConfiguration = true) ?? new CachePolicy();
                Validate(section.Key, policy, context.Errors);
                policies[section.Key] = policy;
            }
            catch (InvalidOperationException ex)
            {
                context.Errors.Add($"Cache policy '{section.Key}' cannot be read: {ex.Message}");
            }
        }

        var byRoute = new Dictionary<string, (string, CachePolicy)>(StringComparer.OrdinalIgnoreCase);
        foreach (var route in context.Routes)
        {
            if (route.Metadata?.GetValueOrDefault(CachePolicies.MetadataKey) is not { } name)
            {
                continue;
            }
            if (policies.TryGetValue(name, out var policy))
            {
                byRoute[route.RouteId] = (name, policy);
            }
            else
            {
                context.Errors.Add($"Route '{route.RouteId}' uses unknown cache policy '{name}'.");
            }
        }
        return new CachingSettings(byRoute);
    }

    private static void Validate(string name, CachePolicy p, ICollection<string> errors)
    {
        if (p.Ttl <= TimeSpan.Zero)
        {
            errors.Add($"Cache policy '{name}': Ttl must be positive, or left out for the standard (origin-driven) mode.");
        }
        if (p.HeuristicFreshnessLimit < TimeSpan.Zero)
        {
            errors.Add($"Cache policy '{name}': HeuristicFreshnessLimit must not be negative.");
        }
        if (p.StaleWhileRevalidate < TimeSpan.Zero || p.StaleIfError < TimeSpan.Zero)
        {
            errors.Add($"Cache policy '{name}': stale windows must not be negative.");
        }
        if (p.MaxEntrySize is < 1 or > 16 * 1024 * 1024)
        {
            errors.Add($"Cache policy '{name}': MaxEntrySize must be between 1 byte and 16 MiB.");
        }
        if (p.CoalescingTimeout < TimeSpan.Zero)
        {
            errors.Add($"Cache policy '{name}': CoalescingTimeout must not be negative.");
        }
        if (p.VaryByHeaders.Any(h => h.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || h.Equals("Cookie", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"Cache policy '{name}': vary by a credential would keep one entry per token; use Scope Private instead.");
        }
    }
}
