using System.Buffers.Binary;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portico.Identity.Accounts;
using Portico.Identity.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>The common-password list needs no database: it is checked once, here.</summary>
public sealed class PasswordHashingTestsOnSqlite(IdentityFixture fixture) : PasswordHashingTests(fixture), IClassFixture<IdentityFixture>
{
    [Fact]
    public void CommonPasswords_HoldTheTopTenThousand()
    {
        Assert.True(CommonPasswords.Count >= 10_000, $"only {CommonPasswords.Count} common passwords");
        Assert.True(CommonPasswords.Contains("Password"));
        Assert.True(CommonPasswords.Contains("24081990"));
        Assert.False(CommonPasswords.Contains(IdentityClient.GoodPassword));
    }
}

public sealed class PasswordHashingTestsOnPostgres(PostgresIdentityFixture fixture)
    : PasswordHashingTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresIdentityFixture>;

/// <summary>Gap 10: PBKDF2 at OWASP's 210,000 iterations, older hashes redone at login, and the common-password list.</summary>
public abstract class PasswordHashingTests(IdentityFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_StoresPbkdf2HashWith210000Iterations()
    {
        var email = IdentityClient.NewEmail();
        await fixture.Client.RegisterOkAsync(email);

        Assert.Equal(210_000, IterationsOf(await StoredHashAsync(email)));
    }

    [Fact]
    public async Task Login_WithAHashOfFewerIterations_SucceedsAndRehashesAt210000()
    {
        var email = IdentityClient.NewEmail();
        await fixture.Client.RegisterOkAsync(email);
        var legacy = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = 100_000 }));
        await using (var scope = fixture.App.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
            var user = await db.Users.SingleAsync(u => u.Email == email, Ct);
            user.PasswordHash = legacy.HashPassword(user, IdentityClient.GoodPassword);
            await db.SaveChangesAsync(Ct);
        }
        Assert.Equal(100_000, IterationsOf(await StoredHashAsync(email)));

        await fixture.Client.LoginOkAsync(email);

        Assert.Equal(210_000, IterationsOf(await StoredHashAsync(email)));
        await fixture.Client.LoginOkAsync(email);
    }

    private async Task<string> StoredHashAsync(string email)
    {
        await using var scope = fixture.App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        return await db.Users.Where(u => u.Email == email).Select(u => u.PasswordHash).SingleAsync(Ct);
    }

    /// <summary>The iteration count of an ASP.NET Core v3 hash: format byte, PRF (4 bytes), iterations (4 bytes, big-endian).</summary>
    private static int IterationsOf(string hash)
    {
        var bytes = Convert.FromBase64String(hash);
        Assert.Equal(0x01, bytes[0]);
        return (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5, 4));
    }
}
