using Microsoft.Extensions.Options;
using Portico.Identity.Accounts;
using Portico.Identity.Clients;
using Portico.Identity.Lockout;
using Portico.ServiceDefaults.Authentication;

namespace Portico.Identity;

/// <summary>Checks <see cref="IdentityServiceOptions"/> at start-up and reports every problem at once.</summary>
internal sealed class IdentityServiceOptionsValidator(IHostEnvironment environment) : IValidateOptions<IdentityServiceOptions>
{
    private const string Section = IdentityServiceOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, IdentityServiceOptions options)
    {
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(options.Issuer))
        {
            errors.Add($"{Section}:{nameof(options.Issuer)} must not be empty.");
        }
        if (string.IsNullOrWhiteSpace(options.Audience))
        {
            errors.Add($"{Section}:{nameof(options.Audience)} must not be empty.");
        }
        RequireRange(errors, nameof(options.AccessTokenLifetime), options.AccessTokenLifetime, TimeSpan.FromMinutes(1), TimeSpan.FromDays(1));
        RequireRange(errors, nameof(options.RefreshTokenLifetime), options.RefreshTokenLifetime, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365));
        RequireRange(errors, nameof(options.UnverifiedLoginGrace), options.UnverifiedLoginGrace, TimeSpan.Zero, TimeSpan.FromDays(30));
        RequireRange(errors, nameof(options.ClockSkew), options.ClockSkew, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        RequireRange(errors, nameof(options.RefreshTokenAbsoluteLifetime), options.RefreshTokenAbsoluteLifetime, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365));
        if (options.RefreshTokenAbsoluteLifetime < options.RefreshTokenLifetime)
        {
            errors.Add($"{Section}:{nameof(options.RefreshTokenAbsoluteLifetime)} must not be shorter than {Section}:{nameof(options.RefreshTokenLifetime)}.");
        }
        if (options.RefreshTokenLifetime < options.AccessTokenLifetime)
        {
            errors.Add($"{Section}:{nameof(options.RefreshTokenLifetime)} must not be shorter than {Section}:{nameof(options.AccessTokenLifetime)}.");
        }

        if (options.TrustedProxies is { } proxies)
        {
            for (var i = 0; i < proxies.Count; i++)
            {
                if (!TrustedProxies.TryParse(proxies[i], out _))
                {
                    errors.Add($"{Section}:{nameof(options.TrustedProxies)}:{i} must be an IP address or a CIDR network such as 10.0.0.0/8 (was '{proxies[i]}').");
                }
            }
        }

        var keys = options.SigningKeys ?? new SigningKeyOptions();
        RequireRange(errors, "SigningKeys:Lifetime", keys.Lifetime, TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650));
        if (keys.Lifetime <= options.AccessTokenLifetime)
        {
            errors.Add($"{Section}:SigningKeys:Lifetime must be longer than {Section}:{nameof(options.AccessTokenLifetime)}.");
        }
        RequireRange(errors, "SigningKeys:PublishAhead", keys.PublishAhead, TimeSpan.Zero, TimeSpan.FromDays(7));
        if (keys.PublishAhead >= keys.Lifetime)
        {
            errors.Add($"{Section}:SigningKeys:PublishAhead must be shorter than {Section}:SigningKeys:Lifetime.");
        }

        var keyRing = options.KeyRing ?? new Keys.KeyRingOptions();
        if (string.IsNullOrWhiteSpace(keyRing.Path))
        {
            errors.Add($"{Section}:KeyRing:Path must not be empty.");
        }
        if (!string.IsNullOrEmpty(keyRing.CertificatePath) && !File.Exists(keyRing.CertificatePath))
        {
            errors.Add($"{Section}:KeyRing:CertificatePath names no file ('{keyRing.CertificatePath}').");
        }

        var lockout = options.Lockout ?? new LoginLockoutOptions();
        RequireCount(errors, "Lockout:MaxFailedAttempts", lockout.MaxFailedAttempts);
        RequireCount(errors, "Lockout:MaxFailedAttemptsPerAddress", lockout.MaxFailedAttemptsPerAddress);
        RequireCount(errors, "Lockout:AccountSoftLimit", lockout.AccountSoftLimit);
        RequireRange(errors, "Lockout:Duration", lockout.Duration, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        RequireRange(errors, "Lockout:MaxDuration", lockout.MaxDuration, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        RequireRange(errors, "Lockout:AddressDuration", lockout.AddressDuration, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        RequireRange(errors, "Lockout:AccountSlowdown", lockout.AccountSlowdown, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        RequireRange(errors, "Lockout:Window", lockout.Window, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
        if (lockout.MaxDuration < lockout.Duration)
        {
            errors.Add($"{Section}:Lockout:MaxDuration must not be shorter than {Section}:Lockout:Duration.");
        }
        if (lockout.Window <= lockout.MaxDuration || lockout.Window <= lockout.AddressDuration)
        {
            errors.Add($"{Section}:Lockout:Window must be longer than {Section}:Lockout:MaxDuration and {Section}:Lockout:AddressDuration, or a lock would forget the failures that led to it.");
        }

        var hashing = options.PasswordHashing ?? new PasswordHashingOptions();
        if (hashing.MaxConcurrency is < 1 or > 1024)
        {
            errors.Add($"{Section}:PasswordHashing:MaxConcurrency must be from 1 to 1024 (was {hashing.MaxConcurrency}).");
        }
        if (hashing.QueueLimit is < 0 or > 100_000)
        {
            errors.Add($"{Section}:PasswordHashing:QueueLimit must be from 0 to 100000 (was {hashing.QueueLimit}).");
        }
        RequireRange(errors, "PasswordHashing:RetryAfter", hashing.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));

        var admin = options.Admin ?? new AdminAccountOptions();
        if (AccountRules.CheckEmail(admin.Email?.Trim() ?? "") is { } emailError)
        {
            errors.Add($"{Section}:Admin:Email: {emailError}");
        }
        if (AccountRules.CheckName(admin.Name?.Trim() ?? "") is { } nameError)
        {
            errors.Add($"{Section}:Admin:Name: {nameError}");
        }
        // The configured password itself is never echoed.
        if (string.IsNullOrEmpty(admin.Password) && admin.Seed == true && !environment.IsDevelopment())
        {
            errors.Add($"{Section}:Admin:Password is required to seed the administrator outside Development; supply it from the environment or a secret store.");
        }
        if (!string.IsNullOrEmpty(admin.Password) && AccountRules.CheckPassword(admin.Password) is { } passwordError)
        {
            errors.Add($"{Section}:Admin:Password: {passwordError}");
        }

        if (!Enum.IsDefined(options.Database?.Provider ?? IdentityDatabaseProvider.Auto))
        {
            errors.Add($"{Section}:Database:Provider must be Auto, Sqlite or Postgres.");
        }

        foreach (var (clientId, client) in options.Clients ?? new Dictionary<string, ServiceClientOptions>())
        {
            ValidateClient(errors, clientId, client, options.Audience);
        }
        RequireRange(errors, "Revocation:ResyncInterval", options.Revocation?.ResyncInterval ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateClient(List<string> errors, string clientId, ServiceClientOptions? client, string? userAudience)
    {
        var key = $"{Section}:Clients:{clientId}";
        if (ServiceClientRules.CheckClientId(clientId) is { } idError)
        {
            errors.Add($"{key}: {idError}");
        }
        // The configured secret itself is never echoed.
        if (ServiceClientRules.CheckSecret(client?.Secret) is { } secretError)
        {
            errors.Add($"{key}:{nameof(client.Secret)}: {secretError}");
        }
        if (client?.Roles is { } roles)
        {
            if (roles.Count == 0)
            {
                errors.Add($"{key}:{nameof(client.Roles)} must list at least one role when set.");
            }
            for (var i = 0; i < roles.Count; i++)
            {
                if (ServiceClientRules.CheckRole(roles[i]) is { } roleError)
                {
                    errors.Add($"{key}:{nameof(client.Roles)}:{i}: {roleError}");
                }
                else if (string.Equals(roles[i], Roles.Admin, StringComparison.OrdinalIgnoreCase))
                {
                    // A leaked client secret must not be an administrator's password that never expires.
                    errors.Add($"{key}:{nameof(client.Roles)}:{i}: a service client cannot hold the '{Roles.Admin}' role.");
                }
            }
        }
        // RFC 8707: a client's token names the one service it is for; a client that may call nothing gets no token.
        if (client?.Resources is not { Count: > 0 } resources)
        {
            errors.Add($"{key}:{nameof(client.Resources)} must name at least one resource the client may call (RFC 8707), such as urn:portico:loyalty.");
            return;
        }
        for (var i = 0; i < resources.Count; i++)
        {
            if (!ResourceIndicators.IsValid(resources[i]))
            {
                errors.Add($"{key}:{nameof(client.Resources)}:{i}: '{resources[i]}' is not an absolute URI without a fragment (RFC 8707 §2), such as urn:portico:loyalty.");
            }
            else if (string.Equals(resources[i], userAudience, StringComparison.Ordinal))
            {
                // That audience is accepted by every service: a token for it would work everywhere.
                errors.Add($"{key}:{nameof(client.Resources)}:{i}: '{resources[i]}' is the audience of user tokens, not one service.");
            }
        }
    }

    private static void RequireCount(List<string> errors, string key, int value)
    {
        if (value is < 1 or > 1000)
        {
            errors.Add($"{Section}:{key} must be from 1 to 1000 (was {value}).");
        }
    }

    private static void RequireRange(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{Section}:{key} must be from {min} to {max} (was {value}).");
        }
    }
}
