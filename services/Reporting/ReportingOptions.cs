using Microsoft.Extensions.Options;

namespace Portico.Reporting;

/// <summary>Settings of the Reporting service (<c>Reporting</c> section), validated at start.</summary>
public sealed record ReportingOptions
{
    public const string SectionName = "Reporting";

    /// <summary>The longest date range a summary covers (both ends included).</summary>
    public int MaxRangeDays { get; init; } = 366;

    /// <summary>The range a summary covers when the query names none: this many days up to today.</summary>
    public int DefaultRangeDays { get; init; } = 30;
}

internal sealed class ReportingOptionsValidator : IValidateOptions<ReportingOptions>
{
    public ValidateOptionsResult Validate(string? name, ReportingOptions options)
    {
        var errors = new List<string>();
        if (options.MaxRangeDays is < 1 or > 3660)
        {
            errors.Add($"{ReportingOptions.SectionName}:MaxRangeDays must be from 1 to 3660, not {options.MaxRangeDays}.");
        }
        if (options.DefaultRangeDays < 1 || options.DefaultRangeDays > options.MaxRangeDays)
        {
            errors.Add($"{ReportingOptions.SectionName}:DefaultRangeDays must be from 1 to MaxRangeDays, not {options.DefaultRangeDays}.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
