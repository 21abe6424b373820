using Microsoft.Extensions.Options;

namespace Portico.Gateway.Caching;

/// <summary>Checks <c>Portico:Caching</c> (the memory tier's size, the events that purge tags) at start, listing every error.</summary>
[OptionsValidator]
internal sealed partial class CachingOptionsValidator : IValidateOptions<CachingOptions>;
