using System.Net;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class KeyRotationTestsOnSqlite() : KeyRotationTests(DatabaseEngine.Sqlite);

public sealed class KeyRotationTestsOnPostgres() : KeyRotationTests(DatabaseEngine.Postgres);

/// <summary>Signing key rotation on a test clock: keys live 30 days, retired keys stay 15 + 1 minutes.</summary>
public abstract class KeyRotationTests(DatabaseEngine engine) : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = IdentityApp.NewClock();
    private IdentityTestDatabase _database = null!;

    public async ValueTask InitializeAsync() => _database = await IdentityTestDatabase.CreateAsync(engine);

    public async ValueTask DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Rotation_NextKeyIsPublishedFifteenMinutesBeforeItSigns_AndTheOldStaysPublishedUntilItsTokensExpire()
    {
        await using var app = _database.NewApp(timeProvider: _clock);
        using var client = app.CreateHttpClient();
        var email = IdentityClient.NewEmail();
        await client.RegisterOkAsync(email);
        await app.VerifyEmailAsync(client, email);

        var first = await client.LoginOkAsync(email);
        var oldKid = KidOf(first.AccessToken);
        Assert.Equal([oldKid], await client.GetPublishedKeyIdsAsync());

        // Fifteen minutes before the key's lifetime ends, the next key is published but does not sign yet...
        _clock.Advance(TimeSpan.FromDays(30) - TimeSpan.FromMinutes(15));
        Assert.Equal(oldKid, KidOf((await client.LoginOkAsync(email)).AccessToken));
        var published = await client.GetPublishedKeyIdsAsync();
        Assert.Equal(2, published.Count);
        var newKid = published[0];
        Assert.Equal([newKid, oldKid], published);

        _clock.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        var lastOfOldKey = await client.LoginOkAsync(email);
        Assert.Equal(oldKid, KidOf(lastOfOldKey.AccessToken));

        // ...and takes over when it ends, while the old key's tokens stay good.
        _clock.Advance(TimeSpan.FromSeconds(1));
        var firstOfNewKey = await client.LoginOkAsync(email);
        Assert.Equal(newKid, KidOf(firstOfNewKey.AccessToken));
        Assert.Equal([newKid, oldKid], await client.GetPublishedKeyIdsAsync());
        await AssertValidAgainstJwksAsync(client, lastOfOldKey.AccessToken);
        await AssertValidAgainstJwksAsync(client, firstOfNewKey.AccessToken);
        using (var me = await client.GetMeAsync(lastOfOldKey.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        }

        // Just before every token of the old key has expired (15 min lifetime + 1 min skew), it is still there...
        _clock.Advance(TimeSpan.FromMinutes(16) - TimeSpan.FromSeconds(1));
        Assert.Equal([newKid, oldKid], await client.GetPublishedKeyIdsAsync());

        // ...and then it is gone, while the new key goes on.
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([newKid], await client.GetPublishedKeyIdsAsync());
        Assert.Equal(newKid, KidOf((await client.LoginOkAsync(email)).AccessToken));
        using (var me = await client.GetMeAsync(lastOfOldKey.AccessToken))
        {
            await me.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
    }

    // Gap 11 (new key signing before validators had it): even when nothing ran at the rotation time, a new key is
    // published a full PublishAhead before its first token.
    [Fact]
    public async Task Rotation_AfterDowntimePastTheLifetime_OldKeySignsOnUntilTheNewOneHasBeenPublishedLongEnough()
    {
        await using var app = _database.NewApp(timeProvider: _clock);
        using var client = app.CreateHttpClient();
        var email = IdentityClient.NewEmail();
        await client.RegisterOkAsync(email);
        await app.VerifyEmailAsync(client, email);
        var oldKid = KidOf((await client.LoginOkAsync(email)).AccessToken);

        _clock.Advance(TimeSpan.FromDays(31));
        Assert.Equal(oldKid, KidOf((await client.LoginOkAsync(email)).AccessToken));
        var newKid = (await client.GetPublishedKeyIdsAsync())[0];
        Assert.NotEqual(oldKid, newKid);

        _clock.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        Assert.Equal(oldKid, KidOf((await client.LoginOkAsync(email)).AccessToken));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(newKid, KidOf((await client.LoginOkAsync(email)).AccessToken));
    }

    [Fact]
    public async Task Keys_SurviveARestart_AndTokensFromBeforeStillValidate()
    {
        string kid;
        TokenDto token;
        var email = IdentityClient.NewEmail();
        await using (var first = _database.NewApp(timeProvider: _clock))
        {
            using var client = first.CreateHttpClient();
            await client.RegisterOkAsync(email);
            token = await client.LoginOkAsync(email);
            kid = KidOf(token.AccessToken);
        }

        await using var second = _database.NewApp(timeProvider: _clock);
        using var again = second.CreateHttpClient();

        Assert.Equal([kid], await again.GetPublishedKeyIdsAsync());
        using var me = await again.GetMeAsync(token.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        using var refreshed = await again.RefreshAsync(token.RefreshToken);
        Assert.Equal(kid, KidOf((await refreshed.ReadTokenAsync()).AccessToken));
    }

    [Fact]
    public async Task AccessToken_AfterItsFifteenMinutes_IsRejectedByMe()
    {
        await using var app = _database.NewApp(timeProvider: _clock);
        using var client = app.CreateHttpClient();
        var email = IdentityClient.NewEmail();
        await client.RegisterOkAsync(email);
        await app.VerifyEmailAsync(client, email);
        var token = await client.LoginOkAsync(email);

        _clock.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(30));
        using (var withinSkew = await client.GetMeAsync(token.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, withinSkew.StatusCode);
        }

        _clock.Advance(TimeSpan.FromMinutes(1));
        using var expired = await client.GetMeAsync(token.AccessToken);
        await expired.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task RefreshToken_AfterItsLifetime_IsRejected()
    {
        await using var app = _database.NewApp(timeProvider: _clock);
        using var client = app.CreateHttpClient();
        var email = IdentityClient.NewEmail();
        await client.RegisterOkAsync(email);
        await app.VerifyEmailAsync(client, email);
        var token = await client.LoginOkAsync(email);

        _clock.Advance(TimeSpan.FromDays(14));

        using var response = await client.RefreshAsync(token.RefreshToken);
        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    private static string KidOf(string jwt) => (string)IdentityClient.DecodeJwtPart(jwt, 0)["kid"]!;

    private async Task AssertValidAgainstJwksAsync(HttpClient client, string jwt)
    {
        var parameters = TokenTests.ValidationParameters(new JsonWebKeySet(await client.GetJwksAsync()).GetSigningKeys());
        // Lifetime by the test clock, as the gateway's own clock would see it.
        parameters.LifetimeValidator = (notBefore, expires, _, p) =>
            expires is { } exp && _clock.GetUtcNow().UtcDateTime < exp + p.ClockSkew;
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(jwt, parameters);
        Assert.True(result.IsValid, result.Exception?.Message);
    }
}
