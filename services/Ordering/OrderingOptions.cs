using Microsoft.Extensions.Options;

namespace Portico.Ordering;

/// <summary>Settings of the Ordering service, bound from the <c>Ordering</c> section.</summary>
/// <remarks>
/// The resilience of calls to Catalog (retries, timeouts, circuit breaker) is the standard handler's
/// <c>HttpStandardResilienceOptions</c>, bound from <c>Ordering:CatalogResilience</c> over short defaults fit for a
/// request a user waits on: two retries 200 ms apart, 3 s per attempt, 10 s in all.
/// </remarks>
public sealed record OrderingOptions
{
    public const string SectionName = "Ordering";

    /// <summary>Where Catalog answers <c>GET /api/products/{id}</c>; a service name is resolved by service discovery.</summary>
    public string CatalogUrl { get; init; } = "http://catalog";

    /// <summary>The <c>Retry-After</c> sent with a 503 when Catalog cannot be reached (whole seconds).</summary>
    public TimeSpan CatalogRetryAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The largest order total accepted, in KRW. Defaults to the largest amount Loyalty's ledger accrues points for
    /// (<c>LedgerRules.MaxAmount</c>), so no order is taken that the points step would then always refuse.
    /// </summary>
    public long MaxOrderTotal { get; init; } = DefaultMaxOrderTotal;

    /// <summary>Loyalty's <c>LedgerRules.MaxAmount</c> (Ordering does not reference Loyalty).</summary>
    public const long DefaultMaxOrderTotal = 1_000_000_000_000;
}

/// <summary>Checks <see cref="OrderingOptions"/> at start-up and reports every problem at once.</summary>
internal sealed class OrderingOptionsValidator : IValidateOptions<OrderingOptions>
{
    public ValidateOptionsResult Validate(string? name, OrderingOptions options)
    {
        var errors = new List<string>();
        if (!Uri.TryCreate(options.CatalogUrl, UriKind.Absolute, out var catalog) || catalog.Scheme is not ("http" or "https"))
        {
            errors.Add($"Ordering:CatalogUrl must be an absolute http or https URL, not '{options.CatalogUrl}'.");
        }
        if (options.CatalogRetryAfter < TimeSpan.FromSeconds(1) || options.CatalogRetryAfter > TimeSpan.FromHours(1))
        {
            errors.Add($"Ordering:CatalogRetryAfter must be from 00:00:01 to 01:00:00, not {options.CatalogRetryAfter}.");
        }
        if (options.MaxOrderTotal < 1)
        {
            errors.Add($"Ordering:MaxOrderTotal must be at least 1 KRW, not {options.MaxOrderTotal}.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
