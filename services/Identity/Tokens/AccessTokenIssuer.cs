using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Accounts;
using Portico.Identity.Keys;

namespace Portico.Identity.Tokens;

/// <summary>
/// Writes access tokens: compact JWS signed ES256 with the active key (header <c>kid</c>), claims
/// <c>sub</c>, <c>email</c>, <c>name</c>, <c>role</c>, <c>iss</c>, <c>aud</c>, <c>iat</c>, <c>nbf</c>, <c>exp</c>, <c>jti</c>.
/// </summary>
internal sealed class AccessTokenIssuer(SigningKeyStore keys, TimeProvider timeProvider, IOptions<IdentityServiceOptions> options)
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TimeSpan Lifetime => options.Value.AccessTokenLifetime;

    public async Task<string> IssueAsync(User user, CancellationToken cancellationToken)
    {
        var keySet = await keys.GetKeySetAsync(cancellationToken);
        var settings = options.Value;
        var now = timeProvider.GetUtcNow().UtcDateTime;

        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + settings.AccessTokenLifetime,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [JwtRegisteredClaimNames.Sub] = user.Id.ToString(),
                [JwtRegisteredClaimNames.Email] = user.Email,
                [JwtRegisteredClaimNames.Name] = user.Name,
                [IdentityClaimNames.Role] = user.Role,
                [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
            },
            SigningCredentials = new SigningCredentials(keySet.Active.Key, SigningKeyStore.Algorithm),
        });
    }
}

/// <summary>Claim names of Portico's access tokens that JWT does not register itself.</summary>
public static class IdentityClaimNames
{
    public const string Role = "role";
}
