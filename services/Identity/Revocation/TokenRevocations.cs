using Microsoft.EntityFrameworkCore;
using Portico.Identity.Accounts;
using Portico.Identity.Infrastructure;
using Portico.ServiceDefaults.Authentication.Revocation;

namespace Portico.Identity.Revocation;

/// <summary>
/// Ends a user's access tokens everywhere: a logout, a password change or reset, and an account's deletion each stage a
/// revocation ("revoked before" the next whole second) in the database, in the same save as the change itself, and
/// then publish it to the store, where the gateway and every service read it within seconds
/// (<see cref="TokenRevocationList"/>). The database row is what counts: a revocation the store missed (it was down)
/// is written again by <see cref="RevocationPublisher"/>.
/// </summary>
internal sealed class TokenRevocations(IdentityDbContext db, RevocationPublisher publisher, TimeProvider timeProvider)
{
    /// <summary>
    /// Stages the revocation of every token of <paramref name="user"/> issued until now: the user's own
    /// <see cref="User.TokensRevokedBefore"/> (Identity's checks and the <c>iat</c> of the user's next tokens) and the
    /// list's row. The caller saves (<see cref="SaveAsync"/>), then calls <see cref="PublishAsync"/>.
    /// </summary>
    public async Task<DateTimeOffset> StageAsync(User user, CancellationToken cancellationToken)
    {
        var revokedBefore = TokenRevocationStore.RevokedBefore(timeProvider.GetUtcNow());
        if (user.TokensRevokedBefore is not { } earlier || earlier < revokedBefore)
        {
            user.TokensRevokedBefore = revokedBefore;
        }
        await StageAsync(user.Id.ToString(), revokedBefore, cancellationToken);
        return revokedBefore;
    }

    /// <summary>Stages the list's row for <paramref name="subject"/> (raised, never lowered).</summary>
    public async Task StageAsync(string subject, DateTimeOffset revokedBefore, CancellationToken cancellationToken)
    {
        var expiresAt = revokedBefore + publisher.EntryLifetime;
        if (await db.TokenRevocations.FindAsync([subject], cancellationToken) is { } row)
        {
            if (row.RevokedBefore < revokedBefore)
            {
                row.RevokedBefore = revokedBefore;
                row.ExpiresAt = expiresAt;
            }
        }
        else
        {
            db.TokenRevocations.Add(new TokenRevocation { Subject = subject, RevokedBefore = revokedBefore, ExpiresAt = expiresAt });
        }
    }

    /// <summary>
    /// Saves the change with its staged revocation. Two revocations of one subject staged at once both add its row; the
    /// one that loses the race updates the row instead (keeping the later time).
    /// </summary>
    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException) when (db.ChangeTracker.Entries<TokenRevocation>().Any(e => e.State == EntityState.Added))
        {
            foreach (var entry in db.ChangeTracker.Entries<TokenRevocation>().Where(e => e.State == EntityState.Added).ToList())
            {
                var existing = await db.TokenRevocations.AsNoTracking().SingleOrDefaultAsync(r => r.Subject == entry.Entity.Subject, cancellationToken);
                if (existing is null)
                {
                    throw; // not the race: something else failed
                }
                if (existing.RevokedBefore > entry.Entity.RevokedBefore)
                {
                    entry.Entity.RevokedBefore = existing.RevokedBefore;
                    entry.Entity.ExpiresAt = existing.ExpiresAt;
                }
                entry.State = EntityState.Modified;
            }
            await db.SaveChangesAsync(cancellationToken);
        }
    }

    /// <summary>Writes a saved revocation to the store; never throws (a failure is logged and made good by the resync).</summary>
    public Task PublishAsync(Guid userId, DateTimeOffset revokedBefore) => publisher.PublishAsync(userId.ToString(), revokedBefore);

    /// <summary>The time a row stays: the longest a token issued before it can still be valid.</summary>
    public static TimeSpan EntryLifetime(IdentityServiceOptions options) => options.AccessTokenLifetime + options.ClockSkew;
}
