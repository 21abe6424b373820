namespace Portico.Identity.Lockout;

/// <summary>
/// Failed logins under one key: an (email, client address) pair, a client address, or an email address
/// (registered or not, so that lockout behaves the same either way and never tells whether an account exists).
/// Instants are Unix milliseconds, so that the conditional updates of <see cref="LoginLockout"/> compare and
/// add them in SQL alike on SQLite and PostgreSQL.
/// </summary>
public sealed class LoginThrottle
{
    /// <summary>A kind prefix and the base64url SHA-256 of what is counted; neither address is stored.</summary>
    public required string Id { get; set; }

    /// <summary>Attempts counted since the counter was last forgotten; a success gives its own back.</summary>
    public int FailureCount { get; set; }

    /// <summary>When the last attempt was counted (Unix ms).</summary>
    public long LastFailureAtMs { get; set; }

    /// <summary>Until when the key refuses every login, right password or not (Unix ms); null when it does not.</summary>
    public long? LockedUntilMs { get; set; }

    /// <summary>For a pair: how long the next lock lasts; doubled by each lock up to the configured maximum.</summary>
    public long NextLockMs { get; set; }
}
