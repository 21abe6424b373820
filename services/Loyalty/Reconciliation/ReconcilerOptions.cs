using Microsoft.Extensions.Options;

namespace Portico.Loyalty.Reconciliation;

/// <summary>
/// Settings of the reconciler (<c>Loyalty:Reconciler</c>), which compares Ordering's orders with the ledger and repairs
/// what disagrees. It reads Ordering as a service client (Identity's client_credentials grant): without a
/// <see cref="ClientSecret"/> it does not run.
/// </summary>
public sealed record ReconcilerOptions
{
    public const string SectionName = "Loyalty:Reconciler";

    /// <summary>Whether the scheduled pass runs (the on-demand endpoint works either way, given a secret).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Time between scheduled passes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How old an order or an accrual must be before a disagreement about it is repaired: a purchase accrues within
    /// seconds of placing its order, and its compensation follows its failure as fast.
    /// </summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How far before its last watermark a pass looks again, for clocks that differ between services.</summary>
    public TimeSpan Overlap { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Orders asked for per page.</summary>
    public int PageSize { get; init; } = 200;

    /// <summary>Where Ordering serves <c>/internal/orders</c>; a service name is resolved by service discovery.</summary>
    public string OrderingUrl { get; init; } = "http://ordering";

    public string TokenUrl { get; init; } = "http://identity/api/auth/token";

    public string ClientId { get; init; } = "loyalty";

    /// <summary>From the environment (<c>Loyalty__Reconciler__ClientSecret</c>), never from a file in the repository.</summary>
    public string? ClientSecret { get; init; }
}

internal sealed class ReconcilerOptionsValidator : IValidateOptions<ReconcilerOptions>
{
    public ValidateOptionsResult Validate(string? name, ReconcilerOptions options)
    {
        var errors = new List<string>();
        if (options.Interval < TimeSpan.FromSeconds(1) || options.Interval > TimeSpan.FromDays(1))
        {
            errors.Add($"{ReconcilerOptions.SectionName}:Interval must be from 00:00:01 to 1.00:00:00, not {options.Interval}.");
        }
        if (options.GracePeriod < TimeSpan.Zero || options.GracePeriod > TimeSpan.FromDays(1))
        {
            errors.Add($"{ReconcilerOptions.SectionName}:GracePeriod must be from 00:00:00 to 1.00:00:00, not {options.GracePeriod}.");
        }
        if (options.Overlap < TimeSpan.Zero || options.Overlap > TimeSpan.FromHours(1))
        {
            errors.Add($"{ReconcilerOptions.SectionName}:Overlap must be from 00:00:00 to 01:00:00, not {options.Overlap}.");
        }
        if (options.PageSize is < 1 or > 500)
        {
            errors.Add($"{ReconcilerOptions.SectionName}:PageSize must be from 1 to 500, not {options.PageSize}.");
        }
        foreach (var (key, url) in new[] { ("OrderingUrl", options.OrderingUrl), ("TokenUrl", options.TokenUrl) })
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                errors.Add($"{ReconcilerOptions.SectionName}:{key} must be an absolute http or https URL, not '{url}'.");
            }
        }
        if (string.IsNullOrWhiteSpace(options.ClientId))
        {
            errors.Add($"{ReconcilerOptions.SectionName}:ClientId is required.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
