using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Portico.Identity.Accounts;
using Portico.Identity.Keys;
using Portico.Identity.Lockout;
using Portico.Identity.Revocation;
using Portico.Identity.Tokens;

namespace Portico.Identity.Infrastructure;

/// <summary>
/// The Identity service's own database: SQLite by default, PostgreSQL when configured
/// (<c>ConnectionStrings:identitydb</c>). The model is the same on both.
/// </summary>
public sealed class IdentityDbContext(DbContextOptions<IdentityDbContext> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();

    public DbSet<RefreshTokenFamily> RefreshTokenFamilies => Set<RefreshTokenFamily>();

    public DbSet<RefreshToken> RefreshTokens => Set<RefreshToken>();

    public DbSet<SigningKey> SigningKeys => Set<SigningKey>();

    public DbSet<LoginThrottle> LoginThrottles => Set<LoginThrottle>();

    public DbSet<PasswordResetToken> PasswordResetTokens => Set<PasswordResetToken>();

    public DbSet<EmailVerificationToken> EmailVerificationTokens => Set<EmailVerificationToken>();

    public DbSet<TokenRevocation> TokenRevocations => Set<TokenRevocation>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite has no date-time type that keeps order; store instants as sortable integers there.
        // PostgreSQL keeps them as timestamptz (every value this service writes is UTC).
        if (Database.IsSqlite())
        {
            configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
        }
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var user = modelBuilder.Entity<User>();
        user.ToTable("Users");
        user.Property(u => u.Email).HasMaxLength(AccountRules.MaxEmailLength);
        user.Property(u => u.NormalizedEmail).HasMaxLength(AccountRules.MaxEmailLength);
        user.Property(u => u.Name).HasMaxLength(AccountRules.MaxNameLength);
        user.Property(u => u.PasswordHash).HasMaxLength(512);
        user.Property(u => u.Role).HasMaxLength(32);
        user.HasIndex(u => u.NormalizedEmail).IsUnique();

        var family = modelBuilder.Entity<RefreshTokenFamily>();
        family.ToTable("RefreshTokenFamilies");
        family.Property(f => f.Version).IsConcurrencyToken();
        family.Property(f => f.ClientId).HasMaxLength(64);
        family.HasOne(f => f.User).WithMany().HasForeignKey(f => f.UserId).OnDelete(DeleteBehavior.Cascade);
        family.HasMany(f => f.Tokens).WithOne(t => t.Family).HasForeignKey(t => t.FamilyId).OnDelete(DeleteBehavior.Cascade);

        var token = modelBuilder.Entity<RefreshToken>();
        token.ToTable("RefreshTokens");
        token.Property(t => t.TokenHash).HasMaxLength(64);
        token.HasIndex(t => t.TokenHash).IsUnique();

        var key = modelBuilder.Entity<SigningKey>();
        key.ToTable("SigningKeys");
        key.Property(k => k.Id).HasMaxLength(64);
        key.Property(k => k.Algorithm).HasMaxLength(16);

        var reset = modelBuilder.Entity<PasswordResetToken>();
        reset.ToTable("PasswordResetTokens");
        reset.Property(t => t.TokenHash).HasMaxLength(64);
        reset.HasIndex(t => t.TokenHash).IsUnique();
        reset.HasOne(t => t.User).WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);

        var verification = modelBuilder.Entity<EmailVerificationToken>();
        verification.ToTable("EmailVerificationTokens");
        verification.Property(t => t.TokenHash).HasMaxLength(64);
        verification.HasIndex(t => t.TokenHash).IsUnique();
        verification.HasOne(t => t.User).WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);

        var revocation = modelBuilder.Entity<TokenRevocation>();
        revocation.ToTable("TokenRevocations");
        revocation.HasKey(r => r.Subject);
        revocation.Property(r => r.Subject).HasMaxLength(64);
        revocation.HasIndex(r => r.ExpiresAt);

        var throttle = modelBuilder.Entity<LoginThrottle>();
        throttle.ToTable("LoginThrottles");
        throttle.Property(t => t.Id).HasMaxLength(64);
    }
}
