using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Keys;

namespace Portico.Identity.Tests;

/// <summary>Gap 1: signing keys at rest, file modes, and a cap on what a stolen key could sign.</summary>
public sealed class KeysAtRestTests : IdentityHostFixture
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public KeysAtRestTests() : base(new Dictionary<string, string?>())
    {
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DatabaseFile_HoldsNoPlainPrivateKey()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        await Client.LoginOkAsync(email);
        var key = (await App.Services.GetRequiredService<SigningKeyStore>().GetKeySetAsync(Ct)).Active.Key.ECDsa;

        var file = await File.ReadAllBytesAsync(App.DatabasePath, Ct);

        Assert.True(file.AsSpan().IndexOf(key.ExportPkcs8PrivateKey()) < 0, "the PKCS#8 private key is in the database file");
        Assert.True(file.AsSpan().IndexOf(key.ExportECPrivateKey()) < 0, "the SEC1 private key is in the database file");
        Assert.True(file.AsSpan().IndexOf(key.ExportParameters(includePrivateParameters: true).D) < 0, "the private scalar is in the database file");
        // Nor any PKCS#8 key at all: version 0 followed by the id-ecPublicKey algorithm identifier.
        byte[] pkcs8EcPrefix = [0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
        Assert.True(file.AsSpan().IndexOf(pkcs8EcPrefix) < 0, "a PKCS#8 EC key is in the database file");
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
