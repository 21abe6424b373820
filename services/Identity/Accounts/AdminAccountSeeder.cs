using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Accounts;

/// <summary>
/// Creates the administrator account (<c>Identity:Admin</c>) if it does not exist yet, by default in the
/// Development environment only. Its password comes from <c>Identity:Admin:Password</c>; without one a
/// random password is generated and logged once, when the account is created. An existing account is
/// left as it is, and an ordinary account that happens to hold the address is never promoted.
/// </summary>
internal sealed partial class AdminAccountSeeder(
    IdentityDbContext db,
    AccountPasswords passwords,
    TimeProvider timeProvider,
    IHostEnvironment environment,
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

        var email = admin.Email.Trim();
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
        };
        user.PasswordHash = passwords.Hash(user, password);
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
            Log.AdminCreatedWithGeneratedPassword(logger, email, password);
        }
        else
        {
            Log.AdminCreatedWithConfiguredPassword(logger, email);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
            Message = "Created the administrator account {Email}. It is shown this once only; its generated password is: {GeneratedPassword}")]
        public static partial void AdminCreatedWithGeneratedPassword(ILogger logger, string email, string generatedPassword);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Created the administrator account {Email} with the configured password")]
        public static partial void AdminCreatedWithConfiguredPassword(ILogger logger, string email);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The administrator address {Email} belongs to an ordinary account; it was not promoted to admin")]
        public static partial void AdminEmailHeldByUser(ILogger logger, string email);
    }
}
