using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Accounts;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Tokens;

/// <summary>
/// Issues and rotates refresh tokens: 32 random bytes (base64url) for the client, only their SHA-256 in the
/// database. Every use replaces the token with a new one of the same family; a token used twice, or two
/// rotations racing on one token, revokes the whole family.
/// </summary>
internal sealed partial class RefreshTokenService(
    IdentityDbContext db,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<RefreshTokenService> logger)
{
    public const int MaxTokenLength = 256;
    private const int TokenBytes = 32;

    /// <summary>Starts a family for a fresh login by <paramref name="clientId"/> (null when none was named) and returns its first token.</summary>
    public async Task<string> StartFamilyAsync(User user, string? clientId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var family = new RefreshTokenFamily
        {
            Id = Guid.NewGuid(),
            UserId = user.Id,
            CreatedAt = now,
            ExpiresAt = now + options.Value.RefreshTokenAbsoluteLifetime,
            ClientId = clientId,
        };
        var (token, entity) = NewToken(now, family.ExpiresAt);
        family.Tokens.Add(entity);
        db.RefreshTokenFamilies.Add(family);
        await db.SaveChangesAsync(cancellationToken);
        return token;
    }

    /// <summary>
    /// Exchanges a refresh token for its successor; null when it is unknown, expired, revoked, reused, past its
    /// family's absolute lifetime, or presented by another client than the one it was issued to (which revokes it).
    /// </summary>
    public async Task<RotatedRefreshToken?> RotateAsync(string presented, string? clientId, CancellationToken cancellationToken)
    {
        var hash = HashToken(presented);
        var stored = await db.RefreshTokens
            .Include(t => t.Family).ThenInclude(f => f!.User)
            .SingleOrDefaultAsync(t => t.TokenHash == hash, cancellationToken);
        if (stored?.Family is not { } family)
        {
            return null;
        }

        var now = timeProvider.GetUtcNow();
        if (family.RevokedAt is not null)
        {
            return null;
        }
        if (stored.ConsumedAt is not null)
        {
            Log.RefreshTokenReused(logger, family.Id, family.UserId);
            await RevokeFamilyAsync(family.Id, now);
            return null;
        }
        if (!string.Equals(family.ClientId, clientId, StringComparison.Ordinal))
        {
            // A token in the wrong client's hands was stolen or leaked (RFC 9700 §4.14): end the login.
            Log.RefreshTokenOfAnotherClient(logger, family.Id, family.UserId);
            await RevokeFamilyAsync(family.Id, now);
            return null;
        }
        if (now >= stored.ExpiresAt || now >= family.ExpiresAt || family.User is not { } user)
        {
            return null;
        }

        var (token, successor) = NewToken(now, family.ExpiresAt);
        stored.ConsumedAt = now;
        family.Version++;
        successor.FamilyId = family.Id;
        // Added explicitly: reached only through the navigation, a token whose key is already set would be taken for an existing row.
        db.RefreshTokens.Add(successor);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Another request rotated or revoked this family in between: the same token was presented twice.
            db.ChangeTracker.Clear();
            Log.RefreshTokenReused(logger, family.Id, family.UserId);
            await RevokeFamilyAsync(family.Id, now);
            return null;
        }
        return new RotatedRefreshToken(user, token);
    }

    /// <summary>
    /// Logout: revokes the family of <paramref name="presented"/>, whatever state it is in, and returns its user; an
    /// unknown token is ignored (RFC 7009 §2.2) and returns null.
    /// </summary>
    public async Task<Guid?> RevokeAsync(string presented)
    {
        var hash = HashToken(presented);
        var family = await db.RefreshTokens.Where(t => t.TokenHash == hash).Select(t => new { t.FamilyId, t.Family!.UserId }).SingleOrDefaultAsync(CancellationToken.None);
        if (family is null)
        {
            return null;
        }
        await RevokeFamilyAsync(family.FamilyId, timeProvider.GetUtcNow());
        return family.UserId;
    }

    /// <summary>Revokes every family of the user: every login on every device ends.</summary>
    public async Task RevokeAllAsync(Guid userId, DateTimeOffset now)
    {
        var revoked = await db.RefreshTokenFamilies
            .Where(f => f.UserId == userId && f.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.RevokedAt, now).SetProperty(f => f.Version, f => f.Version + 1), CancellationToken.None);
        Log.AllFamiliesRevoked(logger, revoked, userId);
    }

    /// <summary>Revokes every token of the family; not cancellable, since a decided revocation must not be abandoned with the request.</summary>
    private async Task RevokeFamilyAsync(Guid familyId, DateTimeOffset now)
    {
        await db.RefreshTokenFamilies
            .Where(f => f.Id == familyId)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.RevokedAt, now).SetProperty(f => f.Version, f => f.Version + 1), CancellationToken.None);
        Log.RefreshTokenFamilyRevoked(logger, familyId);
    }

    private (string Token, RefreshToken Entity) NewToken(DateTimeOffset now, DateTimeOffset familyExpiresAt)
    {
        var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(TokenBytes));
        return (token, new RefreshToken
        {
            Id = Guid.NewGuid(),
            TokenHash = HashToken(token),
            CreatedAt = now,
            ExpiresAt = Min(now + options.Value.RefreshTokenLifetime, familyExpiresAt),
        });
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static string HashToken(string token) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Refresh token of family {FamilyId} (user {UserId}) was used again; revoking the family")]
        public static partial void RefreshTokenReused(ILogger logger, Guid familyId, Guid userId);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Revoked refresh token family {FamilyId}")]
        public static partial void RefreshTokenFamilyRevoked(ILogger logger, Guid familyId);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Refresh token of family {FamilyId} (user {UserId}) was presented by another client; revoking the family")]
        public static partial void RefreshTokenOfAnotherClient(ILogger logger, Guid familyId, Guid userId);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Revoked {Count} refresh token families of user {UserId}")]
        public static partial void AllFamiliesRevoked(ILogger logger, int count, Guid userId);
    }
}

/// <summary>The user a refresh token belonged to and the token that replaces it.</summary>
internal sealed record RotatedRefreshToken(User User, string RefreshToken);
