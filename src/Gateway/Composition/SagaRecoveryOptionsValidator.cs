using Microsoft.Extensions.Options;

namespace Portico.Gateway.Composition;

/// <summary>Checks <c>Portico:SagaRecovery</c> at start from the DataAnnotations of <see cref="SagaRecoveryOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class SagaRecoveryOptionsValidator : IValidateOptions<SagaRecoveryOptions>;
