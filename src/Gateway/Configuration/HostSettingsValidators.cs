using Microsoft.Extensions.Options;
using Portico.Gateway.Admin;
using Portico.Gateway.Caching;
using Portico.Gateway.Security;

namespace Portico.Gateway.Configuration;

/// <summary>
/// Start-up checks of the host settings that data annotations cannot express, each naming the setting and
/// listing every problem at once, as the gateway file's checks do.
/// </summary>
internal sealed class HostSettingsValidators :
    IValidateOptions<AdminOptions>, IValidateOptions<SecurityOptions>, IValidateOptions<ServiceIdentityOptions>, IValidateOptions<CachingOptions>
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

    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var errors = new List<string>();
        foreach (var (policy, cors) in options.Cors)
        {
            var at = $"{SecurityOptions.SectionName}:Cors:{policy}";
            if (cors.Origins.Length == 0)
            {
                errors.Add($"{at}:Origins must name at least one origin.");
            }
            foreach (var origin in cors.Origins)
            {
                if (origin == "*")
                {
                    if (cors.AllowCredentials)
                    {
                        errors.Add($"{at}: '*' cannot be combined with AllowCredentials (the Fetch standard refuses it).");
                    }
                }
                else if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                    || uri.PathAndQuery != "/" || origin.EndsWith('/'))
                {
                    errors.Add($"{at}:Origins has '{origin}', which is not an origin (scheme://host[:port], no path).");
                }
            }
            if (cors.MaxAge < TimeSpan.Zero)
            {
                errors.Add($"{at}:MaxAge must not be negative.");
            }
        }
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, ServiceIdentityOptions options)
    {
        var errors = new List<string>();
        if (!Uri.TryCreate(options.TokenUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"{ServiceIdentityOptions.SectionName}:TokenUrl must be an absolute http(s) URL, not '{options.TokenUrl}'.");
        }
        if (string.IsNullOrWhiteSpace(options.ClientId))
        {
            errors.Add($"{ServiceIdentityOptions.SectionName}:ClientId must not be empty.");
        }
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, CachingOptions options) =>
        options.MemoryLimitBytes < 1024 * 1024
            ? ValidateOptionsResult.Fail($"{CachingOptions.SectionName}:MemoryLimitBytes must be at least 1 MiB, not {options.MemoryLimitBytes}.")
            : ValidateOptionsResult.Success;

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
