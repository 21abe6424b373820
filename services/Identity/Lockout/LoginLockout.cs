using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Lockout;

/// <summary>
/// Counts failed logins per email address (stored as a hash, registered or not) and locks the address for
/// <see cref="LoginLockoutOptions.Duration"/> once <see cref="LoginLockoutOptions.MaxFailedAttempts"/> failures
/// fall within <see cref="LoginLockoutOptions.Window"/>. Kept in the database, so every instance agrees.
/// </summary>
internal sealed partial class LoginLockout(
    IdentityDbContext db,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<LoginLockout> logger)
{
    private const int MaxAttempts = 5;

    /// <summary>How long the address stays locked, or null when it may try to log in.</summary>
    public async Task<TimeSpan?> GetRemainingLockAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        var key = KeyOf(normalizedEmail);
        var throttle = await db.LoginThrottles.AsNoTracking().SingleOrDefaultAsync(t => t.Id == key, cancellationToken);
        return Remaining(throttle?.LockedUntil, timeProvider.GetUtcNow());
    }

    /// <summary>Counts a failed login; returns how long the address is now locked, or null when it is not.</summary>
    public async Task<TimeSpan?> RecordFailureAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        var settings = options.Value.Lockout;
        var key = KeyOf(normalizedEmail);
        for (var attempt = 1; ; attempt++)
        {
            var now = timeProvider.GetUtcNow();
            var throttle = await db.LoginThrottles.SingleOrDefaultAsync(t => t.Id == key, cancellationToken);
            if (throttle is null)
            {
                throttle = new LoginThrottle { Id = key, WindowStartedAt = now };
                db.LoginThrottles.Add(throttle);
            }
            else if (Remaining(throttle.LockedUntil, now) is { } stillLocked)
            {
                return stillLocked;
            }
            else if (throttle.LockedUntil is not null || now - throttle.WindowStartedAt >= settings.Window)
            {
                // The last lock or the counting window is over: start counting afresh.
                throttle.FailureCount = 0;
                throttle.WindowStartedAt = now;
                throttle.LockedUntil = null;
            }

            throttle.FailureCount++;
            throttle.Version++;
            if (throttle.FailureCount >= settings.MaxFailedAttempts)
            {
                throttle.LockedUntil = now + settings.Duration;
            }

            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException) when (attempt < MaxAttempts)
            {
                // A concurrent failure for the same address got there first; count on top of it.
                db.ChangeTracker.Clear();
                continue;
            }

            if (throttle.LockedUntil is { } lockedUntil)
            {
                Log.AddressLocked(logger, throttle.FailureCount, lockedUntil);
                return lockedUntil - now;
            }
            return null;
        }
    }

    /// <summary>Forgets the failures of an address after a successful login.</summary>
    public Task ResetAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        var key = KeyOf(normalizedEmail);
        return db.LoginThrottles.Where(t => t.Id == key).ExecuteDeleteAsync(cancellationToken);
    }

    private static TimeSpan? Remaining(DateTimeOffset? lockedUntil, DateTimeOffset now) =>
        lockedUntil is { } until && until > now ? until - now : null;

    private static string KeyOf(string normalizedEmail) =>
        Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(normalizedEmail)));

    private static partial class Log
    {
        // The address is not logged: it may belong to nobody, and it is personal data when it does.
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Login locked after {FailureCount} failed attempts, until {LockedUntil}")]
        public static partial void AddressLocked(ILogger logger, int failureCount, DateTimeOffset lockedUntil);
    }
}
