using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;

namespace Portico.Gateway.RateLimiting;

/// <summary>Checks every policy and reports all problems at once.</summary>
internal sealed class RateLimitingOptionsValidator(IConfiguration configuration) : IValidateOptions<RateLimitingOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitingOptions options)
    {
        var errors = new List<string>();
        foreach (var (policy, o) in options.Policies)
        {
            var at = $"{RateLimitingOptions.SectionName}:Policies:{policy}";
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
            if (o.Shared && string.IsNullOrWhiteSpace(configuration.GetConnectionString(GatewayStore.ConnectionName)))
            {
                errors.Add($"{at}:Shared needs ConnectionStrings:{GatewayStore.ConnectionName}.");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
