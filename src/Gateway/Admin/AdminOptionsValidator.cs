using Microsoft.Extensions.Options;

namespace Portico.Gateway.Admin;

/// <summary>Checks <c>Portico:Admin</c> at start from the DataAnnotations of <see cref="AdminOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class AdminOptionsValidator : IValidateOptions<AdminOptions>;
