namespace Portico.Identity.Lockout;

/// <summary>
/// Failed logins for one email address, registered or not, so that lockout behaves the same either way
/// and never tells whether an account exists.
/// </summary>
public sealed class LoginThrottle
{
    /// <summary>Base64url SHA-256 of the normalized address; the address itself is not stored.</summary>
    public required string Id { get; set; }

    public int FailureCount { get; set; }

    public DateTimeOffset WindowStartedAt { get; set; }

    public DateTimeOffset? LockedUntil { get; set; }

    public int Version { get; set; }
}
