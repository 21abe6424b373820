using Microsoft.Extensions.Options;

namespace Portico.Gateway.Security;

/// <summary>Checks <c>Portico:Security</c> (CORS policies) and <c>Portico:ServiceIdentity</c> at start, listing every problem.</summary>
internal sealed class SecurityOptionsValidator : IValidateOptions<SecurityOptions>, IValidateOptions<ServiceIdentityOptions>
{
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

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
