using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Accounts;

/// <summary>
/// Creates the administrator account (<c>Identity:Admin</c>) if it does not exist yet, by default in the
/// Development environment only. Its password comes from <c>Identity:Admin:Password</c>, which is required outside
/// Development; in Development without one a random password is generated and printed once to the console (never to
/// a log), when the account is created. An existing account is
/// left as it is, and an ordinary account that happens to hold the address is never promoted.
/// </summary>
internal sealed partial class AdminAccountSeeder(
    IdentityDbContext db,
    AccountPasswords passwords,
    TimeProvider timeProvider,
    IHostEnvironment environment,
    AdminPasswordConsole console,
    IOptions<IdentityServiceOptions> options,
    ILogger<AdminAccountSeeder> logger)
{
    private const string PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    private const int GeneratedPasswordLength = 24;

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var admin = options.Value.Admin;
        if (!(admin.Seed ?? environment.IsDevelopment()))
        {
            return;
        }

        var email = AccountRules.DisplayEmail(admin.Email.Trim());
        var normalizedEmail = AccountRules.NormalizeEmail(email);
        if (await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.NormalizedEmail == normalizedEmail, cancellationToken) is { } existing)
        {
            if (existing.Role != Roles.Admin)
            {
                Log.AdminEmailHeldByUser(logger, email);
            }
            return;
        }

        var generated = string.IsNullOrEmpty(admin.Password);
        if (generated && !environment.IsDevelopment())
        {
            // The options validator refuses this at start-up; never fall back to a password nobody was shown.
            throw new InvalidOperationException($"{IdentityServiceOptions.SectionName}:Admin:Password is required outside Development.");
        }
        var password = generated ? RandomNumberGenerator.GetString(PasswordAlphabet, GeneratedPasswordLength) : admin.Password!;
        var user = new User
        {
            Id = Guid.NewGuid(),
            Email = email,
            NormalizedEmail = normalizedEmail,
            Name = admin.Name.Trim(),
            PasswordHash = "",
            Role = Roles.Admin,
            CreatedAt = timeProvider.GetUtcNow(),
            // Configured by the operator, not claimed by a stranger: nothing to verify.
            EmailVerifiedAt = timeProvider.GetUtcNow(),
        };
        user.PasswordHash = await passwords.HashAsync(user, password, cancellationToken);
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another instance created it first; its password (and its one log line) wins.
            db.ChangeTracker.Clear();
            return;
        }

        if (generated)
        {
            console.ShowGeneratedPassword(email, password);
            Log.AdminCreatedWithGeneratedPassword(logger, email);
        }
        else
        {
            Log.AdminCreatedWithConfiguredPassword(logger, email);
        }
    }

    private static partial class Log
    {
        // The password itself is never logged: logs leave the process over OpenTelemetry.
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
            Message = "Created the administrator account {Email} with a generated password, printed once to the console (Development only)")]
        public static partial void AdminCreatedWithGeneratedPassword(ILogger logger, string email);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Created the administrator account {Email} with the configured password")]
        public static partial void AdminCreatedWithConfiguredPassword(ILogger logger, string email);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The administrator address {Email} belongs to an ordinary account; it was not promoted to admin")]
        public static partial void AdminEmailHeldByUser(ILogger logger, string email);
    }
}
