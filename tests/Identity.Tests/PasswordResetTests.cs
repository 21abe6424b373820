using System.Net;
using System.Text.RegularExpressions;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class PasswordResetTestsOnSqlite() : PasswordResetTests(DatabaseEngine.Sqlite);

public sealed class PasswordResetTestsOnPostgres() : PasswordResetTests(DatabaseEngine.Postgres);

/// <summary>Gap 5: password reset by a single-use token mailed to the development mail sink.</summary>
public abstract partial class PasswordResetTests(DatabaseEngine engine) : IdentityHostFixture(new Dictionary<string, string?>(), engine: engine)
{
    private const string NewPassword = "copper-Meadow-58-lantern";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reset_TokenFromTheMail_SetsTheNewPasswordOnce_AndEndsEveryLogin()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var login = await Client.LoginOkAsync(email);

        using (var unknown = await RequestResetAsync(IdentityClient.NewEmail("nobody")))
        using (var known = await RequestResetAsync(email))
        {
            Assert.Equal(HttpStatusCode.Accepted, unknown.StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, known.StatusCode);
            Assert.Equal(await unknown.Content.ReadAsStringAsync(Ct), await known.Content.ReadAsStringAsync(Ct));
        }
        var mail = Assert.Single(await App.ReadMailAsync("Reset your Portico password"));
        Assert.StartsWith("X-Portico: DEVELOPMENT MAIL SINK", mail, StringComparison.Ordinal);
        Assert.Contains($"To: {email}", mail, StringComparison.Ordinal);
        var token = TokenInMail().Match(mail).Groups[1].Value;

        using (var reset = await ResetAsync(token, NewPassword))
        {
            Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        }

        using (var again = await ResetAsync(token, "another-Password-77"))
        {
            await again.ReadValidationProblemAsync("token");
        }
        using (var refresh = await Client.RefreshAsync(login.RefreshToken))
        {
            await refresh.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using (var oldPassword = await Client.LoginAsync(email))
        {
            await oldPassword.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        await Client.LoginOkAsync(email, NewPassword);
    }

    [Fact]
    public async Task Reset_MadeUpToken_Returns400NamingToken()
    {
        using var reset = await ResetAsync("made-up-token", NewPassword);

        await reset.ReadValidationProblemAsync("token");
    }

    private Task<HttpResponseMessage> RequestResetAsync(string email) =>
        Client.PostJsonAsync("api/auth/password/reset-request", new Dictionary<string, string> { ["email"] = email });

    private Task<HttpResponseMessage> ResetAsync(string token, string newPassword) =>
        Client.PostJsonAsync("api/auth/password/reset", new Dictionary<string, string> { ["token"] = token, ["new_password"] = newPassword });

    [GeneratedRegex("\"token\": \"([A-Za-z0-9_-]+)\"")]
    private static partial Regex TokenInMail();
}
