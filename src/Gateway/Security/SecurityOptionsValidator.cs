using Microsoft.Extensions.Options;

namespace Portico.Gateway.Security;

/// <summary>Checks <c>Portico:Security</c> (CORS policies) at start, listing every problem.</summary>
[OptionsValidator]
internal sealed partial class SecurityOptionsValidator : IValidateOptions<SecurityOptions>;

/// <summary>Checks <c>Portico:ServiceIdentity</c> at start from the DataAnnotations of <see cref="ServiceIdentityOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class ServiceIdentityOptionsValidator : IValidateOptions<ServiceIdentityOptions>;
