using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Portico.ServiceDefaults.Authentication;

/// <summary>
/// Remembers tokens that passed full validation, so a client presenting the same token again skips the
/// signature check (an ECDSA verify) and claim parsing: on the gateway that work cost more than proxying the
/// request. Only exact token strings that validated are remembered, so a tampered or forged token always takes
/// the full path. An entry is used only before the token's own expiry and for at most <see cref="MaxAge"/>,
/// so a key withdrawn from the JWKS stops being honoured within that time.
/// </summary>
public sealed class CachingTokenHandler(TimeProvider time, int capacity = 10_000) : JsonWebTokenHandler
{
    /// <summary>How long a validated token is trusted without checking it again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Entry> _validated = new(StringComparer.Ordinal);

    /// <summary>Number of remembered tokens (for tests and metrics).</summary>
    public int Count => _validated.Count;

    /// <summary>
    /// The identity of a token that validated and is still fresh, for a caller that skips the authentication
    /// handler altogether (the gateway's hot path). Shared between requests: read it, never change it.
    /// </summary>
    public bool TryGetValidated(string token, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out System.Security.Claims.ClaimsIdentity? identity)
    {
        if (_validated.TryGetValue(token, out var entry) && time.GetUtcNow().UtcDateTime < entry.Until)
        {
            identity = entry.Identity;
            return true;
        }
        identity = null;
        return false;
    }

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (_validated.TryGetValue(token, out var entry))
        {
            if (now < entry.Until)
            {
                // A copy of the identity per request: callers may add claims to their principal.
                return new TokenValidationResult { IsValid = true, SecurityToken = entry.Token, ClaimsIdentity = entry.Identity.Clone() };
            }
            _validated.TryRemove(new KeyValuePair<string, Entry>(token, entry));
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is { } validatedToken && result.ClaimsIdentity is { } identity)
        {
            var until = validatedToken.ValidTo == DateTime.MinValue ? now + MaxAge : Min(validatedToken.ValidTo, now + MaxAge);
            if (_validated.Count >= capacity)
            {
                Prune(now);
            }
            _validated[token] = new Entry(validatedToken, identity.Clone(), until);
        }
        return result;
    }

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

    private sealed record Entry(SecurityToken Token, System.Security.Claims.ClaimsIdentity Identity, DateTime Until);
}
