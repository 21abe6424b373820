using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Accounts;
using Portico.Identity.Clients;
using Portico.Identity.Keys;

namespace Portico.Identity.Tokens;

/// <summary>
/// Writes access tokens: compact JWS signed ES256 with the active key (header <c>kid</c>, <c>typ</c> <c>at+jwt</c>), claims
/// <c>sub</c>, <c>name</c>, <c>role</c> (an array when there are several), <c>iss</c>, <c>aud</c>, <c>iat</c>,
/// <c>nbf</c>, <c>exp</c>, <c>jti</c>, and <c>email</c> for users. A user's <c>sub</c> is the account id; a
/// service client's is <c>client:{clientId}</c>.
/// </summary>
internal sealed class AccessTokenIssuer(SigningKeyStore keys, TimeProvider timeProvider, IOptions<IdentityServiceOptions> options)
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>The <c>typ</c> header of an access token (RFC 9068 §2.1), required by every validator.</summary>
    public const string AccessTokenType = "at+jwt";

    public TimeSpan Lifetime => options.Value.AccessTokenLifetime;

    public Task<string> IssueAsync(User user, CancellationToken cancellationToken) =>
        IssueAsync(user.Id.ToString(), user.Name, user.Email, user.Role, cancellationToken);

    public Task<string> IssueAsync(ServiceClient client, CancellationToken cancellationToken) =>
        IssueAsync(client.Subject, client.Id, email: null, client.Roles.Count == 1 ? client.Roles[0] : client.Roles, cancellationToken);

    /// <summary>Signs a token; <paramref name="role"/> is one string or a list (a JSON array), and a null <paramref name="email"/> is left out.</summary>
    private async Task<string> IssueAsync(string subject, string name, string? email, object role, CancellationToken cancellationToken)
    {
        var keySet = await keys.GetKeySetAsync(cancellationToken);
        var settings = options.Value;
        var now = timeProvider.GetUtcNow().UtcDateTime;

        var claims = new Dictionary<string, object>(StringComparer.Ordinal) { [JwtRegisteredClaimNames.Sub] = subject };
        if (email is not null)
        {
            claims[JwtRegisteredClaimNames.Email] = email;
        }
        claims[JwtRegisteredClaimNames.Name] = name;
        claims[IdentityClaimNames.Role] = role;
        claims[JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N");

        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            // RFC 9068 §2.1: an access token says so in its header, so an ID token or any other JWT cannot pass for one.
            TokenType = AccessTokenType,
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + settings.AccessTokenLifetime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(keySet.Active.Key, SigningKeyStore.Algorithm),
        });
    }
}

/// <summary>Claim names of Portico's access tokens that JWT does not register itself.</summary>
public static class IdentityClaimNames
{
    public const string Role = "role";
}
