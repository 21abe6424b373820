using Microsoft.Extensions.Options;

namespace Portico.Gateway.Caching;

/// <summary>Checks <c>Portico:Caching</c> (the memory tier's size, the events that purge tags) at start, listing every error.</summary>
internal sealed class CachingOptionsValidator : IValidateOptions<CachingOptions>
{
    private const int MaxNameLength = 200;

    public ValidateOptionsResult Validate(string? name, CachingOptions options)
    {
        var errors = new List<string>();
        if (options.MemoryLimitBytes < 1024 * 1024)
        {
            errors.Add($"{CachingOptions.SectionName}:MemoryLimitBytes must be at least 1 MiB, not {options.MemoryLimitBytes}.");
        }
        foreach (var (messageType, tags) in options.PurgeOn)
        {
            var path = $"{CachingOptions.SectionName}:{nameof(CachingOptions.PurgeOn)}:{messageType}";
            if (!CachePurgeEvents.Registrations.ContainsKey(messageType))
            {
                errors.Add($"{path}: '{messageType}' is not an event the gateway can purge on; known: {string.Join(", ", CachePurgeEvents.Registrations.Keys)}.");
            }
            if (tags is null || tags.Length == 0)
            {
                errors.Add($"{path} must name at least one tag.");
            }
            else if (tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > MaxNameLength))
            {
                errors.Add($"{path}: every tag must be 1 to {MaxNameLength} characters.");
            }
        }
        if (!IsQueueName(options.PurgeQueue))
        {
            errors.Add($"{CachingOptions.SectionName}:{nameof(CachingOptions.PurgeQueue)} must be 1 to {MaxNameLength} letters, digits, '.', '-' or '_', not '{options.PurgeQueue}'.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsQueueName(string? queue) =>
        queue is { Length: > 0 and <= MaxNameLength } && queue.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}
