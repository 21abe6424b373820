namespace Portico.Identity.Accounts;

/// <summary>An account: who may sign in, under which role.</summary>
public sealed class User
{
    public Guid Id { get; set; }

    /// <summary>The address as registered (trimmed, NFKC), shown back to the user.</summary>
    public required string Email { get; set; }

    /// <summary>The unique key of <see cref="Email"/> (<see cref="AccountRules.NormalizeEmail"/>): lower case, NFKC, punycode domain.</summary>
    public required string NormalizedEmail { get; set; }

    public required string Name { get; set; }

    /// <summary>ASP.NET Core's <c>PasswordHasher</c> output (PBKDF2, salted, versioned).</summary>
    public required string PasswordHash { get; set; }

    /// <summary>One of <see cref="Roles"/>.</summary>
    public required string Role { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the owner proved the address is theirs; null until then (see <see cref="IdentityServiceOptions.UnverifiedLoginGrace"/>).</summary>
    public DateTimeOffset? EmailVerifiedAt { get; set; }

    /// <summary>Access tokens issued before this instant (a password change) are no longer honoured by this service.</summary>
    public DateTimeOffset? TokensRevokedBefore { get; set; }
}

/// <summary>The roles a user can hold; the value of the token's <c>role</c> claim.</summary>
public static class Roles
{
    public const string User = "user";
    public const string Admin = "admin";
}
