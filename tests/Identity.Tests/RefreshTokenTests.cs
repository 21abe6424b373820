using System.Net;
using Microsoft.IdentityModel.Tokens;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class RefreshTokenTestsOnSqlite(IdentityFixture fixture) : RefreshTokenTests(fixture), IClassFixture<IdentityFixture>;

public sealed class RefreshTokenTestsOnPostgres(PostgresIdentityFixture fixture)
    : RefreshTokenTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresIdentityFixture>;

/// <summary>Logins and their refresh-token families as the database keeps them: rotation, reuse, races, readiness.</summary>
public abstract class RefreshTokenTests(IdentityFixture fixture)
{
    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Token_RightPassword_ReturnsBearerTokenPair()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);

        using var response = await _client.LoginAsync(email);

        var token = await response.ReadTokenAsync();
        Assert.Equal("Bearer", token.TokenType);
        Assert.Equal(900, token.ExpiresIn);
        Assert.Equal(3, token.AccessToken.Split('.').Length);
        Assert.True(Base64UrlEncoder.DecodeBytes(token.RefreshToken).Length >= 32);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Refresh_ValidToken_ReturnsNewPairAndTheOldTokenStopsWorking()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        var first = await _client.LoginOkAsync(email);

        using var refreshed = await _client.RefreshAsync(first.RefreshToken);
        var second = await refreshed.ReadTokenAsync();

        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.NotEqual(first.AccessToken, second.AccessToken);
        Assert.Equal(email, (string?)IdentityClient.DecodeJwtPart(second.AccessToken, 1)["email"]);
        using (var me = await _client.GetMeAsync(second.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        }

        using var replay = await _client.RefreshAsync(first.RefreshToken);
        var problem = await replay.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Invalid refresh token", problem.Title);
    }

    [Fact]
    public async Task Refresh_ReuseOfAnOldToken_RevokesTheWholeFamilyButNotOtherLogins()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        var first = await _client.LoginOkAsync(email);
        var otherLogin = await _client.LoginOkAsync(email);
        using var secondResponse = await _client.RefreshAsync(first.RefreshToken);
        var second = await secondResponse.ReadTokenAsync();
        using var thirdResponse = await _client.RefreshAsync(second.RefreshToken);
        var third = await thirdResponse.ReadTokenAsync();

        // An attacker replays the first token: it fails, and so does the newest token of its family.
        using var reuse = await _client.RefreshAsync(first.RefreshToken);
        await reuse.ReadProblemAsync(HttpStatusCode.Unauthorized);
        using var newest = await _client.RefreshAsync(third.RefreshToken);
        await newest.ReadProblemAsync(HttpStatusCode.Unauthorized);

        // A separate login of the same user is a separate family.
        using var other = await _client.RefreshAsync(otherLogin.RefreshToken);
        await other.ReadTokenAsync();
    }

    [Fact]
    public async Task Refresh_SameTokenTwiceAtOnce_AtMostOneSucceedsAndTheFamilyIsRevoked()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        var first = await _client.LoginOkAsync(email);

        var responses = await Task.WhenAll(_client.RefreshAsync(first.RefreshToken), _client.RefreshAsync(first.RefreshToken));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var winner = await responses.Single(r => r.StatusCode == HttpStatusCode.OK).ReadTokenAsync();
        using var afterRace = await _client.RefreshAsync(winner.RefreshToken);
        await afterRace.ReadProblemAsync(HttpStatusCode.Unauthorized);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task HealthReady_DatabaseReachable_ReturnsHealthy()
    {
        using var response = await _client.GetAsync("health/ready", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
