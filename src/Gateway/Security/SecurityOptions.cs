namespace Portico.Gateway.Security;

/// <summary><c>Portico:Security</c>: response hardening. (CORS policies are route policies: the gateway file's <c>Portico:Cors</c>.)</summary>
public sealed record SecurityOptions
{
    public const string SectionName = "Portico:Security";

    /// <summary>Adds nosniff, frame, referrer and content-security headers to every answer.</summary>
    public bool HardeningHeaders { get; init; } = true;
}

/// <summary>A CORS policy of the gateway file (<c>Portico:Cors:Policies:{name}</c>), which routes name with YARP's <c>CorsPolicy</c>.</summary>
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
