using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Portico.Tests.Common;

/// <summary>
/// Mints ES256 tokens the way Identity does, and publishes their public key as a JWKS document, so
/// gateway tests can present real tokens (and forge bad ones) without running Identity.
/// </summary>
public sealed class TestTokenIssuer
{
    public const string Issuer = "portico-identity";
    public const string Audience = "portico";

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public string KeyId { get; } = "test-" + Guid.NewGuid().ToString("N")[..8];

    public ECDsaSecurityKey SigningKey => new(_key) { KeyId = KeyId };

    /// <summary>The JWKS document: this issuer's public key only.</summary>
    public string JwksJson
    {
        get
        {
            var p = _key.ExportParameters(includePrivateParameters: false);
            var key = new Dictionary<string, string>
            {
                ["kty"] = "EC", ["crv"] = "P-256", ["use"] = "sig", ["alg"] = "ES256", ["kid"] = KeyId,
                ["x"] = Base64UrlEncoder.Encode(p.Q.X), ["y"] = Base64UrlEncoder.Encode(p.Q.Y),
            };
            return JsonSerializer.Serialize(new { keys = new[] { key } });
        }
    }

    /// <summary>A valid access token for <paramref name="subject"/>, unless the arguments say otherwise.</summary>
    public string CreateToken(string subject = "user-1", string[]? roles = null, DateTime? expires = null, DateTime? notBefore = null,
        string issuer = Issuer, string audience = Audience, SigningCredentials? credentials = null)
    {
        var now = DateTime.UtcNow;
        var claims = new List<Claim> { new("sub", subject), new("email", subject + "@example.test"), new("name", subject) };
        claims.AddRange((roles ?? ["user"]).Select(r => new Claim("role", r)));
        var descriptor = new SecurityTokenDescriptor
        {
            TokenType = "at+jwt",
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = notBefore ?? now,
            NotBefore = notBefore ?? now,
            Expires = expires ?? now.AddMinutes(15),
            SigningCredentials = credentials ?? new SigningCredentials(SigningKey, SecurityAlgorithms.EcdsaSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }
}
