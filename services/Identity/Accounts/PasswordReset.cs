using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;
using Portico.Identity.Mail;

namespace Portico.Identity.Accounts;

/// <summary>A single-use password reset token, stored only as the SHA-256 of what the mail carried.</summary>
public sealed class PasswordResetToken
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public User? User { get; set; }

    /// <summary>Base64url SHA-256 of the token.</summary>
    public required string TokenHash { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>
/// Password reset: a request only queues the address and answers at once, the same for any address; a background
/// worker looks the account up, stores a token (32 random bytes, valid <see cref="TokenLifetime"/>, single use) and
/// mails it. So neither the answer nor its timing tells whether the address has an account.
/// </summary>
internal sealed partial class PasswordReset(
    IServiceScopeFactory scopeFactory,
    DevelopmentMailSink mail,
    TimeProvider timeProvider,
    ILogger<PasswordReset> logger) : BackgroundService
{
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(30);

    private readonly Channel<string> _requests = Channel.CreateBounded<string>(
        new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>Queues a reset for <paramref name="normalizedEmail"/>; a full queue drops it (the user may ask again).</summary>
    public void Request(string normalizedEmail)
    {
        if (!_requests.Writer.TryWrite(normalizedEmail))
        {
            Log.QueueFull(logger);
        }
    }

    /// <summary>Uses a token: the user whose unused, unexpired token it is, marked used; null otherwise.</summary>
    public static async Task<User?> RedeemAsync(IdentityDbContext db, string token, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var hash = Hash(token);
        var used = await db.PasswordResetTokens
            .Where(t => t.TokenHash == hash && t.UsedAt == null && t.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), cancellationToken);
        if (used != 1)
        {
            return null;
        }
        var userId = await db.PasswordResetTokens.Where(t => t.TokenHash == hash).Select(t => t.UserId).SingleAsync(cancellationToken);
        return await db.Users.SingleOrDefaultAsync(u => u.Id == userId, cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var normalizedEmail in _requests.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await SendAsync(normalizedEmail, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.SendFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.NormalizedEmail == normalizedEmail, cancellationToken);
        if (user is null)
        {
            return;
        }
        var now = timeProvider.GetUtcNow();
        var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        db.PasswordResetTokens.Add(new PasswordResetToken { Id = Guid.NewGuid(), UserId = user.Id, TokenHash = Hash(token), ExpiresAt = now + TokenLifetime });
        await db.SaveChangesAsync(cancellationToken);
        await mail.SendAsync(user.Email, "Reset your Portico password", $"""
            Someone asked to reset the password of this account. If it was you, send within {TokenLifetime.TotalMinutes} minutes:

              POST /api/auth/password/reset {"{"}"token": "{token}", "new_password": "..."{"}"}

            If it was not you, ignore this message: your password stays as it is.
            """, cancellationToken);
    }

    private static string Hash(string token) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Password reset queue is full; a request was dropped")]
        public static partial void QueueFull(ILogger logger);

        [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Sending a password reset failed")]
        public static partial void SendFailed(ILogger logger, Exception exception);
    }
}
