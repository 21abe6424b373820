using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;
using Portico.Identity.Mail;

namespace Portico.Identity.Accounts;

/// <summary>A token that proves the owner of an address received mail there, stored only as its SHA-256.</summary>
public sealed class EmailVerificationToken
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public User? User { get; set; }

    /// <summary>Base64url SHA-256 of the token.</summary>
    public required string TokenHash { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>
/// Mail at registration: a verification token to a new account's address, and to the owner of an address that was
/// registered again a notice instead, so both answers cost the same and the owner learns of the attempt.
/// </summary>
internal sealed class EmailVerification(IdentityDbContext db, DevelopmentMailSink mail, TimeProvider timeProvider)
{
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromDays(7);

    /// <summary>Stores a token for the (already saved) new account and mails it.</summary>
    public async Task SendVerificationAsync(User user, CancellationToken cancellationToken)
    {
        var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        db.EmailVerificationTokens.Add(new EmailVerificationToken
        {
            Id = Guid.NewGuid(),
            UserId = user.Id,
            TokenHash = Hash(token),
            ExpiresAt = timeProvider.GetUtcNow() + TokenLifetime,
        });
        await db.SaveChangesAsync(cancellationToken);
        await mail.SendAsync(user.Email, "Confirm your Portico email address", $$"""
            Confirm that this address is yours within {{TokenLifetime.TotalDays}} days:

              POST /api/auth/verify-email {"token": "{{token}}"}
            """, cancellationToken);
    }

    /// <summary>Tells the owner of <paramref name="email"/> that someone tried to register it again.</summary>
    public Task SendAlreadyRegisteredAsync(string email, CancellationToken cancellationToken) =>
        mail.SendAsync(email, "Someone tried to register your Portico address", """
            Someone tried to create an account with this address, which already has one. Nothing was changed.
            If it was you, sign in, or ask for a password reset if you have forgotten the password.
            """, cancellationToken);

    /// <summary>Marks the token's account verified; false when the token is unknown or expired.</summary>
    public async Task<bool> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var hash = Hash(token);
        var userId = await db.EmailVerificationTokens
            .Where(t => t.TokenHash == hash && t.ExpiresAt > now)
            .Select(t => (Guid?)t.UserId)
            .SingleOrDefaultAsync(cancellationToken);
        if (userId is not { } id)
        {
            return false;
        }
        await db.Users.Where(u => u.Id == id && u.EmailVerifiedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.EmailVerifiedAt, now), cancellationToken);
        await db.EmailVerificationTokens.Where(t => t.UserId == id).ExecuteDeleteAsync(cancellationToken);
        return true;
    }

    private static string Hash(string token) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}
