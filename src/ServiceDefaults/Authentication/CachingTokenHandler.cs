using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.ServiceDefaults.Authentication.Revocation;

namespace Portico.ServiceDefaults.Authentication;

/// <summary>
/// Remembers tokens that passed full validation, so a client presenting the same token again skips the
/// signature check (an ECDSA verify) and claim parsing: on the gateway that work cost more than proxying the
/// request. Only exact token strings that validated are remembered, so a tampered or forged token always takes
/// the full path. An entry is used only before the token's own expiry and for at most <see cref="MaxAge"/>,
/// so a key withdrawn from the JWKS stops being honoured within that time.
/// <para>
/// Every use — a remembered token as much as a freshly validated one — is checked against the revocation list
/// (<see cref="TokenRevocationList"/>, one dictionary lookup by the token's <c>sub</c> and <c>iat</c>, remembered
/// with the entry), so a token revoked after it was remembered is refused from the next request on.
/// </para>
/// </summary>
public sealed class CachingTokenHandler(TimeProvider time, int capacity = 10_000, TokenRevocationList? revocations = null) : JsonWebTokenHandler
{
    /// <summary>How long a validated token is trusted without checking it again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Entry> _validated = new(StringComparer.Ordinal);

    /// <summary>Number of remembered tokens (for tests and metrics).</summary>
    public int Count => _validated.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (_validated.TryGetValue(token, out var entry))
        {
            if (now < entry.Until)
            {
                if (IsRevoked(entry))
                {
                    _validated.TryRemove(new KeyValuePair<string, Entry>(token, entry));
                    return Revoked();
                }
                // A copy of the identity per request: callers may add claims to their principal.
                return new TokenValidationResult { IsValid = true, SecurityToken = entry.Token, ClaimsIdentity = entry.Identity.Clone() };
            }
            _validated.TryRemove(new KeyValuePair<string, Entry>(token, entry));
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is { } validatedToken && result.ClaimsIdentity is { } identity)
        {
            var (subject, issuedAt) = validatedToken is JsonWebToken jwt
                ? (jwt.Subject, jwt.IssuedAt == DateTime.MinValue ? long.MinValue : new DateTimeOffset(jwt.IssuedAt, TimeSpan.Zero).ToUnixTimeSeconds())
                : (null, long.MinValue);
            var fresh = new Entry(validatedToken, identity.Clone(), validatedToken.ValidTo == DateTime.MinValue ? now + MaxAge : Min(validatedToken.ValidTo, now + MaxAge),
                string.IsNullOrEmpty(subject) ? null : subject, issuedAt);
            if (IsRevoked(fresh))
            {
                return Revoked();
            }
            if (_validated.Count >= capacity)
            {
                Prune(now);
            }
            _validated[token] = fresh;
        }
        return result;
    }

    private bool IsRevoked(Entry entry) => revocations is not null && revocations.IsRevoked(entry.Subject, entry.IssuedAt);

    private static TokenValidationResult Revoked() => new()
    {
        IsValid = false,
        Exception = new SecurityTokenRevokedException("The token was issued before its subject's tokens were revoked (logout, password change or account deletion)."),
    };

    private void Prune(DateTime now)
    {
        foreach (var (token, entry) in _validated)
        {
            if (now >= entry.Until)
            {
                _validated.TryRemove(token, out _);
            }
        }
        if (_validated.Count >= capacity)
        {
            _validated.Clear(); // all still valid: start over rather than grow past the bound
        }
    }

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;

    private sealed record Entry(SecurityToken Token, System.Security.Claims.ClaimsIdentity Identity, DateTime Until, string? Subject, long IssuedAt);
}

/// <summary>A token that is valid in itself but whose subject's tokens were revoked after it was issued.</summary>
public sealed class SecurityTokenRevokedException(string message) : SecurityTokenValidationException(message);
