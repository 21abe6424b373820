namespace Portico.Gateway.Security;

/// <summary><c>Portico:Security</c>: CORS policies that routes name with YARP's <c>CorsPolicy</c>, and response hardening.</summary>
public sealed record SecurityOptions
{
    public const string SectionName = "Portico:Security";

    public IReadOnlyDictionary<string, CorsPolicyOptions> Cors { get; init; } = new Dictionary<string, CorsPolicyOptions>();

    /// <summary>Adds nosniff, frame, referrer and content-security headers to every answer.</summary>
    public bool HardeningHeaders { get; init; } = true;
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
