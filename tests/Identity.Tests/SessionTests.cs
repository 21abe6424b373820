using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class SessionTestsOnSqlite() : SessionTests(DatabaseEngine.Sqlite);

public sealed class SessionTestsOnPostgres() : SessionTests(DatabaseEngine.Postgres);

/// <summary>Gap 5: sessions that can end — logout, password change, an absolute lifetime, and binding to the client.</summary>
public abstract class SessionTests : IdentityHostFixture
{
    private const string NewPassword = "amber-Quarry-31-willow";

    private readonly FakeTimeProvider _clock;

    protected SessionTests(DatabaseEngine engine) : this(engine, IdentityApp.NewClock())
    {
    }

    private SessionTests(DatabaseEngine engine, FakeTimeProvider clock) : base(new Dictionary<string, string?>(), clock, engine) => _clock = clock;

    [Fact]
    public async Task Logout_RevokesTheLogin_SoItsRefreshTokenNoLongerWorks()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var token = await Client.LoginOkAsync(email);
        var other = await Client.LoginOkAsync(email);

        using var logout = await Client.PostJsonAsync("api/auth/logout", new Dictionary<string, string> { ["refresh_token"] = token.RefreshToken });

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        using var refresh = await Client.RefreshAsync(token.RefreshToken);
        await refresh.ReadProblemAsync(HttpStatusCode.Unauthorized);
        // Another login of the same user goes on.
        using var otherRefresh = await Client.RefreshAsync(other.RefreshToken);
        await otherRefresh.ReadTokenAsync();
    }

    // Gap 5: a logout ended only the refresh token; the access token of the login went on working until it expired.
    [Fact]
    public async Task Logout_RefusesTheUsersEarlierAccessTokens_ButNotALoginRightAfter()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var token = await Client.LoginOkAsync(email);
        using (var before = await Client.GetMeAsync(token.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using (var logout = await Client.PostJsonAsync("api/auth/logout", new Dictionary<string, string> { ["refresh_token"] = token.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        using (var after = await Client.GetMeAsync(token.AccessToken))
        {
            await after.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        // The clock has not moved: the new login is in the very second of the logout, and is stamped after it.
        var again = await Client.LoginOkAsync(email);
        Assert.True(IssuedAt(again.AccessToken) > IssuedAt(token.AccessToken));
        using var fresh = await Client.GetMeAsync(again.AccessToken);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task ConcurrentLogouts_OfOneUser_AllSucceed()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var logins = new List<TokenDto>();
        for (var i = 0; i < 4; i++)
        {
            logins.Add(await Client.LoginOkAsync(email));
        }

        var logouts = await Task.WhenAll(logins.Select(l =>
            Client.PostJsonAsync("api/auth/logout", new Dictionary<string, string> { ["refresh_token"] = l.RefreshToken })));

        Assert.All(logouts, r => Assert.Equal(HttpStatusCode.NoContent, r.StatusCode));
        foreach (var response in logouts)
        {
            response.Dispose();
        }
        using var me = await Client.GetMeAsync(logins[^1].AccessToken);
        await me.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logout_UnknownToken_Returns204AllTheSame()
    {
        using var logout = await Client.PostJsonAsync("api/auth/logout", new Dictionary<string, string> { ["refresh_token"] = "not-a-token" });

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
    }

    [Fact]
    public async Task ChangePassword_EndsEveryLoginOfTheUser_AndRefusesOlderAccessTokens()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var laptop = await Client.LoginOkAsync(email);
        var phone = await Client.LoginOkAsync(email);
        _clock.Advance(TimeSpan.FromSeconds(2));

        using (var change = await ChangePasswordAsync(laptop.AccessToken, IdentityClient.GoodPassword, NewPassword))
        {
            Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        }

        foreach (var refreshToken in new[] { laptop.RefreshToken, phone.RefreshToken })
        {
            using var refresh = await Client.RefreshAsync(refreshToken);
            await refresh.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using (var me = await Client.GetMeAsync(phone.AccessToken))
        {
            await me.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using (var oldPassword = await Client.LoginAsync(email))
        {
            await oldPassword.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        var fresh = await Client.LoginOkAsync(email, NewPassword);
        using var freshMe = await Client.GetMeAsync(fresh.AccessToken);
        Assert.Equal(HttpStatusCode.OK, freshMe.StatusCode);
    }

    [Fact]
    public async Task ChangePassword_WrongCurrentOrCommonNewPassword_Returns400NamingTheField()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var token = await Client.LoginOkAsync(email);

        using (var wrong = await ChangePasswordAsync(token.AccessToken, "not-the-Password-1", NewPassword))
        {
            await wrong.ReadValidationProblemAsync("current_password");
        }
        using (var common = await ChangePasswordAsync(token.AccessToken, IdentityClient.GoodPassword, "Welcome@2024"))
        {
            await common.ReadValidationProblemAsync("new_password");
        }
        using var anonymous = await ChangePasswordAsync(null, IdentityClient.GoodPassword, NewPassword);
        await anonymous.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task RefreshFamily_EndsAfterThirtyDays_HoweverOftenItIsUsed()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        await App.VerifyEmailAsync(Client, email);
        var token = await Client.LoginOkAsync(email);

        foreach (var days in new[] { 10, 10, 9 })
        {
            _clock.Advance(TimeSpan.FromDays(days));
            using var refresh = await Client.RefreshAsync(token.RefreshToken);
            token = await refresh.ReadTokenAsync();
        }

        _clock.Advance(TimeSpan.FromDays(1));
        using var expired = await Client.RefreshAsync(token.RefreshToken);
        await expired.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task RefreshToken_PresentedByAnotherClient_IsRefusedAndEndsTheLogin()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var login = await Client.PostJsonAsync("api/auth/token", new Dictionary<string, string>
        {
            ["email"] = email, ["password"] = IdentityClient.GoodPassword, ["client_id"] = "portico-web",
        });
        var token = await login.ReadTokenAsync();

        using (var same = await RefreshAsClientAsync(token.RefreshToken, "portico-web"))
        {
            token = await same.ReadTokenAsync();
        }
        using (var other = await RefreshAsClientAsync(token.RefreshToken, "evil-app"))
        {
            await other.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var afterTheft = await RefreshAsClientAsync(token.RefreshToken, "portico-web");
        await afterTheft.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    private static long IssuedAt(string accessToken) => (long)IdentityClient.DecodeJwtPart(accessToken, 1)["iat"]!;

    private Task<HttpResponseMessage> RefreshAsClientAsync(string refreshToken, string clientId) =>
        Client.PostJsonAsync("api/auth/token", new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken, ["client_id"] = clientId,
        });

    private async Task<HttpResponseMessage> ChangePasswordAsync(string? accessToken, string current, string next)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/password")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new Dictionary<string, string> { ["current_password"] = current, ["new_password"] = next }),
        };
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return await Client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
