using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Lockout;

/// <summary>
/// Throttles password logins so that guessing is slow and nobody can lock a user out from elsewhere. Attempts are
/// counted under three keys, kept in the database so every instance agrees:
/// <list type="bullet">
/// <item>the (email, client address) pair: after <see cref="LoginLockoutOptions.MaxFailedAttempts"/> failures in a
/// row the pair is locked, first for <see cref="LoginLockoutOptions.Duration"/>, and each further lock twice as long
/// as the one before, up to <see cref="LoginLockoutOptions.MaxDuration"/>;</item>
/// <item>the client address across all emails: <see cref="LoginLockoutOptions.MaxFailedAttemptsPerAddress"/> failures
/// lock the address for <see cref="LoginLockoutOptions.AddressDuration"/> (password spraying);</item>
/// <item>the email across all addresses: past <see cref="LoginLockoutOptions.AccountSoftLimit"/> failures every
/// login for it waits <see cref="LoginLockoutOptions.AccountSlowdown"/> first. This only slows; it never refuses, so
/// the owner's login from an address without failures still succeeds.</item>
/// </list>
/// An attempt is counted before the password is checked, by one conditional <c>UPDATE</c> that refuses while a lock
/// holds and sets the lock itself when the count reaches the limit, so concurrent guesses cannot slip past a
/// check that has not been recorded yet. A successful login gives its attempt back and forgets its pair. Counters
/// are forgotten after <see cref="LoginLockoutOptions.Window"/> without attempts.
/// </summary>
internal sealed partial class LoginLockout(
    IdentityDbContext db,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<LoginLockout> logger)
{
    private const string PairPrefix = "p:";
    private const string AddressPrefix = "a:";
    private const string AccountPrefix = "u:";

    /// <summary>
    /// Counts an attempt of <paramref name="normalizedEmail"/> from <paramref name="clientAddress"/> (grouped by
    /// <see cref="ClientAddress.Group"/>) before its password is checked.
    /// </summary>
    public async Task<LoginAttempt> BeginAsync(string normalizedEmail, string clientAddress, CancellationToken cancellationToken)
    {
        var settings = options.Value.Lockout;
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var attempt = new LoginAttempt(
            PairPrefix + Hash(normalizedEmail + "\n" + clientAddress),
            AddressPrefix + Hash(clientAddress),
            AccountPrefix + Hash(normalizedEmail));

        if (await ReserveAsync(attempt.AddressKey, now, settings.MaxFailedAttemptsPerAddress, settings.AddressDuration, settings.AddressDuration, cancellationToken) is { } addressLocked)
        {
            return attempt with { RetryAfter = addressLocked };
        }
        if (await ReserveAsync(attempt.PairKey, now, settings.MaxFailedAttempts, settings.Duration, settings.MaxDuration, cancellationToken) is { } pairLocked)
        {
            await RefundAsync(attempt.AddressKey, settings.MaxFailedAttemptsPerAddress);
            return attempt with { RetryAfter = pairLocked };
        }

        var windowStart = now - (long)settings.Window.TotalMilliseconds;
        var accountFailures = await db.LoginThrottles.AsNoTracking()
            .Where(t => t.Id == attempt.AccountKey && t.LastFailureAtMs > windowStart)
            .Select(t => t.FailureCount)
            .FirstOrDefaultAsync(cancellationToken);
        return accountFailures >= settings.AccountSoftLimit ? attempt with { Slowdown = settings.AccountSlowdown } : attempt;
    }

    /// <summary>The password was right: the attempt is given back to the address, and the pair's failures are forgotten.</summary>
    public async Task SucceededAsync(LoginAttempt attempt)
    {
        // Not cancellable: a decided login must not leave its attempt counted as a failure.
        await RefundAsync(attempt.AddressKey, options.Value.Lockout.MaxFailedAttemptsPerAddress);
        await db.LoginThrottles.Where(t => t.Id == attempt.PairKey).ExecuteDeleteAsync(CancellationToken.None);
    }

    /// <summary>The password could not be checked (the service was busy): the attempt is given back to both counters.</summary>
    public async Task AbandonAsync(LoginAttempt attempt)
    {
        var settings = options.Value.Lockout;
        await RefundAsync(attempt.PairKey, settings.MaxFailedAttempts);
        await RefundAsync(attempt.AddressKey, settings.MaxFailedAttemptsPerAddress);
    }

    /// <summary>
    /// The password was wrong (or the account unknown): the attempt stays counted, and the account's failures grow.
    /// Returns how long this address must now wait, or null when it may try again at once.
    /// </summary>
    public async Task<TimeSpan?> FailedAsync(LoginAttempt attempt)
    {
        var settings = options.Value.Lockout;
        var nowInstant = timeProvider.GetUtcNow();
        var now = nowInstant.ToUnixTimeMilliseconds();
        var windowStart = now - (long)settings.Window.TotalMilliseconds;

        await InsertIfMissingAsync(attempt.AccountKey, 0, CancellationToken.None);
        await db.LoginThrottles
            .Where(t => t.Id == attempt.AccountKey)
            .ExecuteUpdateAsync(s => s
                .SetProperty(t => t.FailureCount, t => t.LastFailureAtMs <= windowStart ? 1 : t.FailureCount + 1)
                .SetProperty(t => t.LastFailureAtMs, now), CancellationToken.None);

        var lockedUntil = await db.LoginThrottles.AsNoTracking()
            .Where(t => (t.Id == attempt.PairKey || t.Id == attempt.AddressKey) && t.LockedUntilMs > now)
            .MaxAsync(t => t.LockedUntilMs, CancellationToken.None);
        if (lockedUntil is not { } until)
        {
            return null;
        }
        var retryAfter = TimeSpan.FromMilliseconds(until - now);
        Log.LoginLocked(logger, nowInstant + retryAfter);
        return retryAfter;
    }

    /// <summary>
    /// Counts an attempt under <paramref name="key"/> unless it is locked; the attempt that reaches
    /// <paramref name="limit"/> locks the key for the key's next lock duration, which then doubles up to
    /// <paramref name="maxDuration"/>. Returns how long the key is still locked when it refused, else null.
    /// </summary>
    private async Task<TimeSpan?> ReserveAsync(string key, long now, int limit, TimeSpan duration, TimeSpan maxDuration, CancellationToken cancellationToken)
    {
        var windowStart = now - (long)options.Value.Lockout.Window.TotalMilliseconds;
        var firstLockMs = (long)duration.TotalMilliseconds;
        var maxLockMs = (long)maxDuration.TotalMilliseconds;
        // A counter that is not locked but was not counted either was deleted in between (the expired-record
        // cleaner removes a fresh row, whose last failure is at 0) or its lock ended this very moment: count again.
        // Only a lock that holds refuses.
        for (var round = 1; ; round++)
        {
            await InsertIfMissingAsync(key, firstLockMs, cancellationToken);

            // One statement, so that concurrent attempts are serialised by the database: each sees the count and the
            // lock the one before it left. Every right-hand side reads the row as it was before this update.
            var counted = await db.LoginThrottles
                .Where(t => t.Id == key && (t.LockedUntilMs == null || t.LockedUntilMs <= now))
                .ExecuteUpdateAsync(s => s
                    .SetProperty(t => t.FailureCount, t => t.LastFailureAtMs <= windowStart ? 1 : t.FailureCount + 1)
                    .SetProperty(t => t.LastFailureAtMs, now)
                    .SetProperty(t => t.LockedUntilMs, t => (t.LastFailureAtMs <= windowStart ? 1 : t.FailureCount + 1) >= limit
                        ? now + (t.LastFailureAtMs <= windowStart ? firstLockMs : t.NextLockMs)
                        : (long?)null)
                    .SetProperty(t => t.NextLockMs, t => (t.LastFailureAtMs <= windowStart ? 1 : t.FailureCount + 1) >= limit
                        ? ((t.LastFailureAtMs <= windowStart ? firstLockMs : t.NextLockMs) * 2 > maxLockMs
                            ? maxLockMs
                            : (t.LastFailureAtMs <= windowStart ? firstLockMs : t.NextLockMs) * 2)
                        : (t.LastFailureAtMs <= windowStart ? firstLockMs : t.NextLockMs)), cancellationToken);
            if (counted == 1)
            {
                return null;
            }

            var lockedUntil = await db.LoginThrottles.AsNoTracking()
                .Where(t => t.Id == key)
                .Select(t => t.LockedUntilMs)
                .FirstOrDefaultAsync(cancellationToken);
            if (lockedUntil > now)
            {
                return TimeSpan.FromMilliseconds(lockedUntil.Value - now);
            }
            if (round == 3)
            {
                // Deleted again and again: refuse for the shortest time rather than loop.
                return TimeSpan.FromSeconds(1);
            }
        }
    }

    /// <summary>Gives an attempt back; lifts the key's lock when it no longer reaches <paramref name="limit"/>.</summary>
    private Task RefundAsync(string key, int limit) =>
        db.LoginThrottles
            .Where(t => t.Id == key && t.FailureCount > 0)
            .ExecuteUpdateAsync(s => s
                .SetProperty(t => t.FailureCount, t => t.FailureCount - 1)
                .SetProperty(t => t.LockedUntilMs, t => t.FailureCount - 1 < limit ? null : t.LockedUntilMs), CancellationToken.None);

    /// <summary>Creates the counter of <paramref name="key"/> unless it exists; a row that is forgotten-old counts as fresh.</summary>
    private Task<int> InsertIfMissingAsync(string key, long firstLockMs, CancellationToken cancellationToken) =>
        // ON CONFLICT DO NOTHING reads the same on SQLite (3.24+) and PostgreSQL (9.5+).
        db.Database.ExecuteSqlAsync(
            $"""INSERT INTO "LoginThrottles" ("Id", "FailureCount", "LastFailureAtMs", "LockedUntilMs", "NextLockMs") VALUES ({key}, 0, {0L}, NULL, {firstLockMs}) ON CONFLICT ("Id") DO NOTHING""",
            cancellationToken);

    private static string Hash(string value) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private static partial class Log
    {
        // Neither the email nor the client address is logged: the email may belong to nobody, and both are personal data.
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Logins from a client address paused after repeated failures, until {LockedUntil}")]
        public static partial void LoginLocked(ILogger logger, DateTimeOffset lockedUntil);
    }
}

/// <summary>
/// A counted login attempt: the keys it was counted under, how long the caller must wait before checking the
/// password (<see cref="Slowdown"/>), and, when it was refused, how long until the next attempt may be made.
/// </summary>
internal sealed record LoginAttempt(string PairKey, string AddressKey, string AccountKey)
{
    public TimeSpan? RetryAfter { get; init; }

    public TimeSpan Slowdown { get; init; }
}
