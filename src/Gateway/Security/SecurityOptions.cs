using System.ComponentModel.DataAnnotations;

namespace Portico.Gateway.Security;

/// <summary><c>Portico:Security</c>: CORS policies that routes name with YARP's <c>CorsPolicy</c>, and response hardening.</summary>
public sealed record SecurityOptions : IValidatableObject
{
    public const string SectionName = "Portico:Security";

    public IReadOnlyDictionary<string, CorsPolicyOptions> Cors { get; init; } = new Dictionary<string, CorsPolicyOptions>();

    /// <summary>Adds nosniff, frame, referrer and content-security headers to every answer.</summary>
    public bool HardeningHeaders { get; init; } = true;

    /// <summary>Every CORS policy names real origins (the browser compares them byte for byte) and a usable max age.</summary>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        foreach (var (policy, cors) in Cors)
        {
            var at = $"{SectionName}:{nameof(Cors)}:{policy}";
            if (cors.Origins.Length == 0)
            {
                yield return new ValidationResult($"{at}:Origins must name at least one origin.");
            }
            foreach (var origin in cors.Origins)
            {
                if (origin == "*")
                {
                    if (cors.AllowCredentials)
                    {
                        yield return new ValidationResult($"{at}: '*' cannot be combined with AllowCredentials (the Fetch standard refuses it).");
                    }
                }
                else if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                    || uri.PathAndQuery != "/" || origin.EndsWith('/'))
                {
                    yield return new ValidationResult($"{at}:Origins has '{origin}', which is not an origin (scheme://host[:port], no path).");
                }
            }
            if (cors.MaxAge < TimeSpan.Zero)
            {
                yield return new ValidationResult($"{at}:MaxAge must not be negative.");
            }
        }
    }
}

public sealed record CorsPolicyOptions
{
    public string[] Origins { get; init; } = [];
    public string[] Methods { get; init; } = ["GET", "HEAD", "POST", "PUT", "DELETE"];
    public string[] Headers { get; init; } = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"];
    public bool AllowCredentials { get; init; }
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>Authorization policy names routes can use in YARP's <c>AuthorizationPolicy</c> (YARP adds <c>anonymous</c> and <c>default</c>).</summary>
public static class GatewayAuthorizationPolicies
{
    public const string Anonymous = "anonymous";
    public const string User = "user";
    public const string Admin = "admin";
    public const string AdminRole = "admin";
}
