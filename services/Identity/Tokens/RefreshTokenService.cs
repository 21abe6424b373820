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

    /// <summary>Starts a family for a fresh login and returns its first token.</summary>
    public async Task<string> StartFamilyAsync(User user, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var family = new RefreshTokenFamily { Id = Guid.NewGuid(), UserId = user.Id, CreatedAt = now };
        var (token, entity) = NewToken(now);
        family.Tokens.Add(entity);
        db.RefreshTokenFamilies.Add(family);
        await db.SaveChangesAsync(cancellationToken);
        return token;
    }

    /// <summary>Exchanges a refresh token for its successor; null when it is unknown, expired, revoked or reused.</summary>
    public async Task<RotatedRefreshToken?> RotateAsync(string presented, CancellationToken cancellationToken)
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
        if (now >= stored.ExpiresAt || family.User is not { } user)
        {
            return null;
        }

        var (token, successor) = NewToken(now);
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

    /// <summary>Revokes every token of the family; not cancellable, since a decided revocation must not be abandoned with the request.</summary>
    private async Task RevokeFamilyAsync(Guid familyId, DateTimeOffset now)
    {
        await db.RefreshTokenFamilies
            .Where(f => f.Id == familyId)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.RevokedAt, now).SetProperty(f => f.Version, f => f.Version + 1), CancellationToken.None);
        Log.RefreshTokenFamilyRevoked(logger, familyId);
    }

    private (string Token, RefreshToken Entity) NewToken(DateTimeOffset now)
    {
        var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(TokenBytes));
        return (token, new RefreshToken
        {
            Id = Guid.NewGuid(),
            TokenHash = HashToken(token),
            CreatedAt = now,
            ExpiresAt = now + options.Value.RefreshTokenLifetime,
        });
    }

    private static string HashToken(string token) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Refresh token of family {FamilyId} (user {UserId}) was used again; revoking the family")]
        public static partial void RefreshTokenReused(ILogger logger, Guid familyId, Guid userId);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Revoked refresh token family {FamilyId}")]
        public static partial void RefreshTokenFamilyRevoked(ILogger logger, Guid familyId);
    }
}

/// <summary>The user a refresh token belonged to and the token that replaces it.</summary>
internal sealed record RotatedRefreshToken(User User, string RefreshToken);
