using Portico.Identity.Accounts;

namespace Portico.Identity.Tokens;

/// <summary>
/// The chain of refresh tokens that descend from one login. Each token may be used once and is replaced
/// by the next; presenting a used one again revokes the family, and with it every descendant.
/// </summary>
public sealed class RefreshTokenFamily
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public User? User { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The absolute end of the login: no token of the family is honoured after it, however recently issued.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>The <c>client_id</c> the login named, if any; a refresh must name the same one.</summary>
    public string? ClientId { get; set; }

    /// <summary>When the family was revoked: reuse of a token, logout, a password change.</summary>
    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>Bumped by every rotation and by revocation, so that two of them cannot both succeed.</summary>
    public int Version { get; set; }

    public List<RefreshToken> Tokens { get; set; } = [];
}

/// <summary>One refresh token of a family, stored only as the SHA-256 of what the client holds.</summary>
public sealed class RefreshToken
{
    public Guid Id { get; set; }

    public Guid FamilyId { get; set; }

    public RefreshTokenFamily? Family { get; set; }

    /// <summary>Base64url SHA-256 of the token string.</summary>
    public required string TokenHash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>When the token was exchanged for its successor; a second use after that is a reuse.</summary>
    public DateTimeOffset? ConsumedAt { get; set; }
}
