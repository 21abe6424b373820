namespace Portico.Identity;

/// <summary>Settings of the Identity service, bound from the <c>Identity</c> section.</summary>
public sealed record IdentityServiceOptions
{
    public const string SectionName = "Identity";

    /// <summary>The <c>iss</c> of every token (<c>Identity:Issuer</c>).</summary>
    public string Issuer { get; init; } = "portico-identity";

    /// <summary>The <c>aud</c> of every token (<c>Identity:Audience</c>).</summary>
    public string Audience { get; init; } = "portico";

    /// <summary>How long an access token is valid (<c>Identity:AccessTokenLifetime</c>).</summary>
    public TimeSpan AccessTokenLifetime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a refresh token may wait to be used; each use starts a new one (<c>Identity:RefreshTokenLifetime</c>).</summary>
    public TimeSpan RefreshTokenLifetime { get; init; } = TimeSpan.FromDays(14);

    /// <summary>
    /// How long a login's refresh tokens may go on being renewed, however often they are used
    /// (<c>Identity:RefreshTokenAbsoluteLifetime</c>); then the user signs in again.
    /// </summary>
    public TimeSpan RefreshTokenAbsoluteLifetime { get; init; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Clock difference tolerated when this service validates a token, and kept as margin before a
    /// retired signing key leaves the key set (<c>Identity:ClockSkew</c>).
    /// </summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Peers whose <c>X-Forwarded-For</c> names the client (<c>Identity:TrustedProxies</c>): IP addresses or CIDR
    /// networks, normally the gateway's. Login throttling counts failures per client address, so a header from
    /// anyone else is ignored. Unset means loopback in the Development environment and nobody elsewhere.
    /// </summary>
    public IReadOnlyList<string>? TrustedProxies { get; init; }

    /// <summary>
    /// How long after registering an account may sign in before its email address is verified
    /// (<c>Identity:UnverifiedLoginGrace</c>); after that, logins and refreshes wait for the verification.
    /// </summary>
    public TimeSpan UnverifiedLoginGrace { get; init; } = TimeSpan.FromDays(1);

    public SigningKeyOptions SigningKeys { get; init; } = new();

    public Portico.Identity.Keys.KeyRingOptions KeyRing { get; init; } = new();

    public LoginLockoutOptions Lockout { get; init; } = new();

    public PasswordHashingOptions PasswordHashing { get; init; } = new();

    public MailSinkOptions MailSink { get; init; } = new();

    public AdminAccountOptions Admin { get; init; } = new();

    public IdentityDatabaseOptions Database { get; init; } = new();

    public RevocationPublishingOptions Revocation { get; init; } = new();

    /// <summary>
    /// Services that may obtain tokens of their own with the <c>client_credentials</c> grant, keyed by
    /// client id (<c>Identity:Clients:{clientId}</c>). None by default.
    /// </summary>
    public IReadOnlyDictionary<string, ServiceClientOptions> Clients { get; init; } = new Dictionary<string, ServiceClientOptions>(StringComparer.Ordinal);
}

/// <summary>Signing key rotation (<c>Identity:SigningKeys</c>).</summary>
public sealed record SigningKeyOptions
{
    /// <summary>
    /// How long a key signs new tokens before a fresh key replaces it (<c>Identity:SigningKeys:Lifetime</c>).
    /// A retired key stays published for one access-token lifetime plus the clock skew.
    /// </summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a new key is published in the JWKS before it signs (<c>Identity:SigningKeys:PublishAhead</c>), so
    /// every validator has fetched it by then: at least the validators' key-set lifetime (<c>Portico:Jwt:JwksLifetime</c>,
    /// 10 minutes by default). The very first key signs at once, since no validator knows any key yet.
    /// </summary>
    public TimeSpan PublishAhead { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// Throttling of password logins (<c>Identity:Lockout</c>): per (email, client address) pair with exponential back-off,
/// per client address, and a soft limit per account that only slows. See <c>LoginLockout</c>.
/// </summary>
public sealed record LoginLockoutOptions
{
    /// <summary>Failed logins in a row from one address for one email that lock the pair.</summary>
    public int MaxFailedAttempts { get; init; } = 5;

    /// <summary>How long a pair's first lock lasts; each further lock lasts twice as long as the one before.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest a pair's lock lasts, however many locks came before.</summary>
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Failed logins from one client address, for any emails, that lock the address.</summary>
    public int MaxFailedAttemptsPerAddress { get; init; } = 50;

    /// <summary>How long a locked client address waits; after that each further failure locks it again.</summary>
    public TimeSpan AddressDuration { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Failed logins for one email, from any addresses, after which every login for it is slowed.</summary>
    public int AccountSoftLimit { get; init; } = 10;

    /// <summary>How long a login for an email past <see cref="AccountSoftLimit"/> waits before its password is checked.</summary>
    public TimeSpan AccountSlowdown { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A counter without attempts for this long is forgotten; longer than <see cref="MaxDuration"/>.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromDays(1);
}

/// <summary>The development mail sink (<c>Identity:MailSink</c>): mail to users as files, in Development only.</summary>
public sealed record MailSinkOptions
{
    /// <summary>Directory of the message files, created 0700 (<c>Identity:MailSink:Path</c>).</summary>
    public string Path { get; init; } = "identity-mail";
}

/// <summary>How many password hashes may run at once (<c>Identity:PasswordHashing</c>).</summary>
public sealed record PasswordHashingOptions
{
    /// <summary>Hashes computed at the same time; one per core by default.</summary>
    public int MaxConcurrency { get; init; } = Environment.ProcessorCount;

    /// <summary>Requests that may wait for a slot, oldest first; beyond them the answer is 503.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>The <c>Retry-After</c> of that 503.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>The administrator account seeded at start-up (<c>Identity:Admin</c>).</summary>
public sealed record AdminAccountOptions
{
    /// <summary>Whether to seed it; unset means "in the Development environment only".</summary>
    public bool? Seed { get; init; }

    public string Email { get; init; } = "admin@portico.local";

    public string Name { get; init; } = "Administrator";

    /// <summary>
    /// The password given to the account when it is first created; required outside Development. When unset in
    /// Development a random one is generated and printed once to the console, never to a log. An existing account
    /// keeps its password.
    /// </summary>
    public string? Password { get; init; }
}

/// <summary>A service client of the <c>client_credentials</c> grant (<c>Identity:Clients:{clientId}</c>).</summary>
public sealed record ServiceClientOptions
{
    /// <summary>The role a client holds when <see cref="Roles"/> is not configured.</summary>
    public const string DefaultRole = "service";

    /// <summary>
    /// The shared secret the client presents (<c>Identity:Clients:{clientId}:Secret</c>), at least 32 characters.
    /// Supply it from the environment or a secret store, never from a committed file.
    /// </summary>
    public string Secret { get; init; } = "";

    /// <summary>
    /// The <c>role</c> claims of the client's tokens (<c>Identity:Clients:{clientId}:Roles</c>); unset means
    /// <c>["service"]</c>. Null rather than that list by default, because the configuration binder would add the
    /// configured roles to a default list instead of replacing it.
    /// </summary>
    public IReadOnlyList<string>? Roles { get; init; }

    /// <summary>The configured roles, or <see cref="DefaultRole"/> alone.</summary>
    public IReadOnlyList<string> EffectiveRoles => Roles ?? [DefaultRole];

    /// <summary>
    /// The services the client may call, by their RFC 8707 resource identifiers (<c>Identity:Clients:{clientId}:Resources</c>,
    /// e.g. <c>urn:portico:loyalty</c>; at least one). A token is issued for one of them at a time, named by the
    /// <c>resource</c> parameter (the only one when the client has a single resource), and carries it as its audience.
    /// </summary>
    public IReadOnlyList<string>? Resources { get; init; }

    // Keeps the secret out of ToString(), and so out of any log or exception that prints the record.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Secret = ***, Roles = [").AppendJoin(", ", EffectiveRoles).Append("], Resources = [").AppendJoin(", ", Resources ?? []).Append(']');
        return true;
    }
}

/// <summary>
/// How Identity keeps the revocation list in the store (<c>Identity:Revocation</c>, store from <c>ConnectionStrings:store</c>).
/// Every revocation is a database row first; it is written to the store at once, and all live rows are compared with the
/// store every <see cref="ResyncInterval"/> and written again where the store lacks them (after an outage, or a Garnet
/// restart that emptied it).
/// </summary>
public sealed record RevocationPublishingOptions
{
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Which EF Core provider serves <c>ConnectionStrings:identitydb</c> (<c>Identity:Database</c>).</summary>
public sealed record IdentityDatabaseOptions
{
    public IdentityDatabaseProvider Provider { get; init; } = IdentityDatabaseProvider.Auto;
}

public enum IdentityDatabaseProvider
{
    /// <summary>PostgreSQL when the connection string names a <c>Host</c> (or <c>Server</c>), SQLite otherwise.</summary>
    Auto,
    Sqlite,
    Postgres,
}
