using System.ComponentModel.DataAnnotations;

namespace Portico.ServiceDefaults.Authentication;

/// <summary>
/// <c>Portico:Jwt</c>: how every process checks the access tokens Identity issues. The gateway and each
/// service validate the same way, so a request that goes round the gateway gains nothing.
/// </summary>
public sealed record JwtOptions
{
    public const string SectionName = "Portico:Jwt";

    /// <summary>Identity's key set; a service name here is resolved by service discovery.</summary>
    [Required]
    public string JwksUrl { get; init; } = "http://identity/.well-known/jwks.json";

    [Required]
    public string Issuer { get; init; } = "portico-identity";

    [Required]
    public string Audience { get; init; } = "portico";

    /// <summary>Allowed clock difference for <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Only asymmetric algorithms: <c>none</c> and HMAC (key confusion) are never accepted.</summary>
    [MinLength(1)]
    public string[] Algorithms { get; init; } = ["ES256", "RS256"];

    /// <summary>
    /// Shortest time between two fetches of the key set. A token with an unknown <c>kid</c> asks for a fetch,
    /// so this is what keeps a flood of made-up kids from hammering Identity.
    /// </summary>
    public TimeSpan JwksRefreshInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a fetched key set is used before it is fetched again anyway.</summary>
    public TimeSpan JwksLifetime { get; init; } = TimeSpan.FromMinutes(10);
}
