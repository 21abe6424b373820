using Microsoft.Extensions.Options;

namespace Portico.Messaging.Outbox;

/// <summary>Settings of the outbox relay, bound from <c>Messaging:Outbox</c>.</summary>
public sealed record OutboxRelayOptions
{
    public const string SectionName = "Messaging:Outbox";

    /// <summary>How often the relay looks for rows when nothing woke it.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Rows claimed at once.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>How long a claim holds; a relay that died lets its rows go after this.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Backoff after a failed publish: doubled per failure of the row, up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long published rows are kept (for inspection) before the relay deletes them.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);

    public TimeSpan RetryDelay(int failures) =>
        TimeSpan.FromTicks((long)Math.Min(RetryInitialDelay.Ticks * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)), RetryMaxDelay.Ticks));
}

internal sealed class OutboxRelayOptionsValidator : IValidateOptions<OutboxRelayOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxRelayOptions options)
    {
        var errors = new List<string>();
        if (options.PollInterval < TimeSpan.FromMilliseconds(10) || options.PollInterval > TimeSpan.FromMinutes(5))
        {
            errors.Add($"Messaging:Outbox:PollInterval must be from 00:00:00.01 to 00:05:00, not {options.PollInterval}.");
        }
        if (options.BatchSize is < 1 or > 10_000)
        {
            errors.Add($"Messaging:Outbox:BatchSize must be from 1 to 10000, not {options.BatchSize}.");
        }
        if (options.Lease < TimeSpan.FromSeconds(1) || options.Lease > TimeSpan.FromHours(1))
        {
            errors.Add($"Messaging:Outbox:Lease must be from 00:00:01 to 01:00:00, not {options.Lease}.");
        }
        if (options.RetryInitialDelay <= TimeSpan.Zero || options.RetryMaxDelay < options.RetryInitialDelay)
        {
            errors.Add($"Messaging:Outbox:RetryInitialDelay must be above zero and at most RetryMaxDelay ({options.RetryInitialDelay}, {options.RetryMaxDelay}).");
        }
        if (options.Retention < TimeSpan.FromMinutes(1) || options.Retention > TimeSpan.FromDays(365))
        {
            errors.Add($"Messaging:Outbox:Retention must be from 00:01:00 to 365.00:00:00, not {options.Retention}.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
