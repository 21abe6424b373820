using System.ComponentModel.DataAnnotations;

namespace Portico.ServiceDefaults.Authentication;

/// <summary>
/// <c>Portico:Jwt</c>: how every process checks the access tokens Identity issues. The gateway and each
/// service validate the same way, so a request that goes round the gateway gains nothing.
/// </summary>
public sealed record JwtOptions : IValidatableObject
{
    public const string SectionName = "Portico:Jwt";

    /// <summary>Identity's key set; a service name here is resolved by service discovery.</summary>
    [Required]
    public string JwksUrl { get; init; } = "http://identity/.well-known/jwks.json";

    [Required]
    public string Issuer { get; init; } = "portico-identity";

    /// <summary>
    /// The audience of user tokens, which the gateway forwards to the services it calls: accepted by the gateway and by
    /// every service. Identity never gives this audience to a service client's token.
    /// </summary>
    [Required]
    public string Audience { get; init; } = "portico";

    /// <summary>
    /// This service's resource identifier (RFC 8707), e.g. <c>urn:portico:ordering</c>: a service client's token is
    /// issued for one resource (its <c>aud</c>) and accepted only by the service that names that resource here, besides
    /// user tokens (<see cref="Audience"/>). Unset (the gateway): no service token is accepted.
    /// </summary>
    public string? Resource { get; init; }

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

    /// <summary>
    /// How long a key set that validated a token before may still validate one that the current key set refuses
    /// (IdentityModel's "last known good" fallback, one hour in IdentityModel). Zero, the default, turns it off, so a
    /// key removed from the JWKS is refused as soon as the key set is fetched again; at most 5 minutes, the time
    /// <see cref="CachingTokenHandler"/> trusts a token it has validated.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan JwksLastKnownGoodLifetime { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// The longest access-token lifetime accepted: <c>exp - iat</c> must not exceed it, and <c>iat</c> is required.
    /// A token minted with a stolen key for a year is refused all the same. Keep it at least Identity's
    /// <c>Identity:AccessTokenLifetime</c> (15 minutes by default).
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan MaxAccessTokenLifetime { get; init; } = TimeSpan.FromHours(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Resource is { } resource && (!ResourceIndicators.IsValid(resource) || resource == Audience))
        {
            yield return new ValidationResult(
                $"{SectionName}:Resource must be an absolute URI without a fragment (RFC 8707 §2), such as urn:portico:ordering, and differ from the audience of user tokens; '{resource}' is not.",
                [nameof(Resource)]);
        }
    }
}
