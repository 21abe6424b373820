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
/// <c>nbf</c>, <c>exp</c>, <c>jti</c>, <c>email</c> for users and <c>client_id</c> for service clients. A user's
/// <c>sub</c> is the account id and its <c>aud</c> the shared audience every service accepts; a service client's
/// <c>sub</c> is <c>client:{clientId}</c> and its <c>aud</c> the one resource (RFC 8707) the token was asked for.
/// </summary>
internal sealed class AccessTokenIssuer(SigningKeyStore keys, TimeProvider timeProvider, IOptions<IdentityServiceOptions> options)
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>The <c>typ</c> header of an access token (RFC 9068 §2.1), required by every validator.</summary>
    public const string AccessTokenType = "at+jwt";

    public TimeSpan Lifetime => options.Value.AccessTokenLifetime;

    /// <summary>
    /// A user's token. Its <c>iat</c> is never before the user's <see cref="User.TokensRevokedBefore"/>: a login in the
    /// second a revocation was decided in is stamped with the next second (at most one second ahead, well inside every
    /// validator's clock skew), so the revocation list, which compares whole seconds, refuses every token issued before the
    /// revocation and none issued after it.
    /// </summary>
    public Task<string> IssueAsync(User user, CancellationToken cancellationToken) =>
        IssueAsync(user.Id.ToString(), user.Name, user.Email, user.Role, options.Value.Audience, clientId: null, user.TokensRevokedBefore, cancellationToken);

    /// <summary>A service client's token for <paramref name="resource"/>, one the client may call (see <see cref="ServiceClient.ResolveResource"/>).</summary>
    public Task<string> IssueAsync(ServiceClient client, string resource, CancellationToken cancellationToken) =>
        IssueAsync(client.Subject, client.Id, email: null, client.Roles.Count == 1 ? client.Roles[0] : client.Roles, resource, client.Id, notBefore: null, cancellationToken);

    /// <summary>Signs a token; <paramref name="role"/> is one string or a list (a JSON array), and a null <paramref name="email"/> or <paramref name="clientId"/> is left out.</summary>
    private async Task<string> IssueAsync(string subject, string name, string? email, object role, string audience, string? clientId,
        DateTimeOffset? notBefore, CancellationToken cancellationToken)
    {
        var keySet = await keys.GetKeySetAsync(cancellationToken);
        var settings = options.Value;
        // Whole seconds, as iat is written; not before the subject's revocation time.
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(timeProvider.GetUtcNow().ToUnixTimeSeconds());
        if (notBefore is { } revokedBefore && revokedBefore > issuedAt)
        {
            issuedAt = revokedBefore;
        }
        var now = issuedAt.UtcDateTime;

        var claims = new Dictionary<string, object>(StringComparer.Ordinal) { [JwtRegisteredClaimNames.Sub] = subject };
        if (email is not null)
        {
            claims[JwtRegisteredClaimNames.Email] = email;
        }
        claims[JwtRegisteredClaimNames.Name] = name;
        claims[IdentityClaimNames.Role] = role;
        if (clientId is not null)
        {
            claims[IdentityClaimNames.ClientId] = clientId; // RFC 9068 §2.2
        }
        claims[JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N");

        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            // RFC 9068 §2.1: an access token says so in its header, so an ID token or any other JWT cannot pass for one.
            TokenType = AccessTokenType,
            Issuer = settings.Issuer,
            Audience = audience,
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

    /// <summary>RFC 9068 §2.2: the client the token was issued to (service clients' tokens).</summary>
    public const string ClientId = "client_id";
}
