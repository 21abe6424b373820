using System.Net;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;
using Portico.Identity.Keys;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>On SQLite the database is a file: it holds no plain key, and only the service's user may read it.</summary>
public sealed class KeysAtRestTestsOnSqlite() : KeysAtRestTests(DatabaseEngine.Sqlite)
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task DatabaseFile_HoldsNoPlainPrivateKey()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        await Client.LoginOkAsync(email);
        var key = (await App.Services.GetRequiredService<SigningKeyStore>().GetKeySetAsync(Ct)).Active.Key.ECDsa;

        var file = await File.ReadAllBytesAsync(App.DatabasePath, Ct);

        AssertHoldsNoPrivateKey(file, key, "the database file");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task DatabaseFileAndKeyRing_AreReadableByTheServiceUserOnly()
    {
        await Client.GetPublishedKeyIdsAsync();

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(App.DatabasePath));
        var keyRing = IdentityApp.KeyRingPath(App.DatabasePath);
        Assert.Equal(OwnerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keyRing));
        var files = Directory.GetFiles(keyRing);
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(f)));
    }

    // The issue's experiment: a key read from the database signed a one-year admin token that /me accepted.
    [Fact]
    public async Task Me_TokenSignedWithTheServiceKeyButLivingLongerThanItIssues_IsRefused()
    {
        var email = IdentityClient.NewEmail();
        var user = await Client.RegisterAndGetUserAsync(email);
        var key = (await App.Services.GetRequiredService<SigningKeyStore>().GetKeySetAsync(Ct)).Active.Key;

        using (var fifteenMinutes = await Client.GetMeAsync(Mint(key, user.Id, TimeSpan.FromMinutes(15))))
        {
            Assert.Equal(HttpStatusCode.OK, fifteenMinutes.StatusCode);
        }
        using var oneYear = await Client.GetMeAsync(Mint(key, user.Id, TimeSpan.FromDays(365)));
        await oneYear.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    private static string Mint(ECDsaSecurityKey key, Guid subject, TimeSpan lifetime)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "portico-identity",
            Audience = "portico",
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            TokenType = "at+jwt",
            Claims = new Dictionary<string, object> { ["sub"] = subject.ToString(), ["role"] = "admin", ["name"] = "x" },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        });
    }
}

/// <summary>On PostgreSQL there is no file to read; the stored key column is what a stolen backup or a read-only login would show.</summary>
public sealed class KeysAtRestTestsOnPostgres() : KeysAtRestTests(DatabaseEngine.Postgres);

/// <summary>Gap 1: signing keys at rest, file modes, and a cap on what a stolen key could sign.</summary>
public abstract class KeysAtRestTests(DatabaseEngine engine) : IdentityHostFixture(new Dictionary<string, string?>(), engine: engine)
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StoredSigningKeys_HoldNoPlainPrivateKey()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        await Client.LoginOkAsync(email);
        var key = (await App.Services.GetRequiredService<SigningKeyStore>().GetKeySetAsync(Ct)).Active.Key.ECDsa;

        await using var scope = App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        Assert.Equal(ServiceTestDatabase.ProviderName(Engine), db.Database.ProviderName);
        var stored = await db.SigningKeys.AsNoTracking().ToListAsync(Ct);

        Assert.NotEmpty(stored);
        Assert.All(stored, k =>
        {
            AssertHoldsNoPrivateKey(k.ProtectedPrivateKey, key, $"the stored key {k.Id}");
            AssertHoldsNoPrivateKey(k.PublicKey, key, $"the public key column of {k.Id}");
        });
    }

    /// <summary>Neither <paramref name="key"/>'s private half in any encoding, nor any PKCS#8 EC key at all, is in <paramref name="bytes"/>.</summary>
    protected static void AssertHoldsNoPrivateKey(byte[] bytes, ECDsa key, string what)
    {
        Assert.True(bytes.AsSpan().IndexOf(key.ExportPkcs8PrivateKey()) < 0, $"the PKCS#8 private key is in {what}");
        Assert.True(bytes.AsSpan().IndexOf(key.ExportECPrivateKey()) < 0, $"the SEC1 private key is in {what}");
        Assert.True(bytes.AsSpan().IndexOf(key.ExportParameters(includePrivateParameters: true).D) < 0, $"the private scalar is in {what}");
        // Nor any PKCS#8 key at all: version 0 followed by the id-ecPublicKey algorithm identifier.
        byte[] pkcs8EcPrefix = [0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
        Assert.True(bytes.AsSpan().IndexOf(pkcs8EcPrefix) < 0, $"a PKCS#8 EC key is in {what}");
    }
}
