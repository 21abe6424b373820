using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Portico.Identity.Infrastructure;

/// <summary>
/// Once every <see cref="Interval"/>, deletes what can no longer matter: failed-login counters whose window
/// and lock are over (anyone can create them by trying addresses), refresh tokens past their expiry, families
/// left without tokens, and revocations no token can outlive any more. Without it those tables would only grow.
/// </summary>
internal sealed partial class ExpiredRecordCleaner(
    IServiceScopeFactory scopeFactory,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<ExpiredRecordCleaner> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CleanAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The next tick tries again; a failed clean-up loses nothing.
                    Log.CleanupFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task CleanAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var forgottenBefore = nowMs - (long)options.Value.Lockout.Window.TotalMilliseconds;

        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var throttles = await db.LoginThrottles
            .Where(t => t.LastFailureAtMs <= forgottenBefore && (t.LockedUntilMs == null || t.LockedUntilMs <= nowMs))
            .ExecuteDeleteAsync(cancellationToken);
        var tokens = await db.RefreshTokens.Where(t => t.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
        var families = await db.RefreshTokenFamilies.Where(f => !f.Tokens.Any()).ExecuteDeleteAsync(cancellationToken);
        await db.PasswordResetTokens.Where(t => t.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
        await db.EmailVerificationTokens.Where(t => t.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
        await db.TokenRevocations.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
        Log.Cleaned(logger, throttles, tokens, families);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Deleted {Throttles} expired login counters, {Tokens} expired refresh tokens and {Families} empty token families")]
        public static partial void Cleaned(ILogger logger, int throttles, int tokens, int families);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Clean-up of expired identity records failed; it runs again in an hour")]
        public static partial void CleanupFailed(ILogger logger, Exception exception);
    }
}
