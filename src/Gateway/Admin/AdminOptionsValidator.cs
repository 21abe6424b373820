using Microsoft.Extensions.Options;

namespace Portico.Gateway.Admin;

/// <summary>Checks <c>Portico:Admin</c> at start, naming each setting that is out of shape.</summary>
internal sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options)
    {
        var errors = new List<string>();
        // Routing compares it as a path prefix: one leading slash, no trailing one, no query.
        if (!options.PathPrefix.StartsWith('/') || options.PathPrefix.Length < 2 || options.PathPrefix.EndsWith('/')
            || options.PathPrefix.IndexOfAny(['?', '#', ' ']) >= 0)
        {
            errors.Add($"{AdminOptions.SectionName}:PathPrefix must be a path such as '/portico' (one leading '/', none trailing), not '{options.PathPrefix}'.");
        }
        return Result(errors);
    }

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
