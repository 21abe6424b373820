using Microsoft.Extensions.Options;

namespace Portico.Gateway.Caching;

/// <summary>Checks <c>Portico:Caching</c> (the memory tier's size) at start.</summary>
internal sealed class CachingOptionsValidator : IValidateOptions<CachingOptions>
{
    public ValidateOptionsResult Validate(string? name, CachingOptions options) =>
        options.MemoryLimitBytes < 1024 * 1024
            ? ValidateOptionsResult.Fail($"{CachingOptions.SectionName}:MemoryLimitBytes must be at least 1 MiB, not {options.MemoryLimitBytes}.")
            : ValidateOptionsResult.Success;
}
