using Microsoft.Extensions.Options;

namespace Portico.Gateway.Security;

/// <summary>
/// <see cref="SecurityOptions"/> holds one switch, which any value of makes valid; this validator exists because every
/// host-settings type is registered the same way (<c>AddHostSettings</c>), and the generator refuses a type with
/// nothing to check.
/// </summary>
internal sealed class SecurityOptionsValidator : IValidateOptions<SecurityOptions>
{
    public ValidateOptionsResult Validate(string? name, SecurityOptions options) => ValidateOptionsResult.Success;
}

/// <summary>Checks <c>Portico:ServiceIdentity</c> at start from the DataAnnotations of <see cref="ServiceIdentityOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class ServiceIdentityOptionsValidator : IValidateOptions<ServiceIdentityOptions>;
