using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class EmailVerificationTestsOnSqlite() : EmailVerificationTests(DatabaseEngine.Sqlite);

public sealed class EmailVerificationTestsOnPostgres() : EmailVerificationTests(DatabaseEngine.Postgres);

/// <summary>Gap 7/8: addresses are verified by a mailed token; unverified accounts may sign in for a day only.</summary>
public abstract partial class EmailVerificationTests : IdentityHostFixture
{
    private readonly FakeTimeProvider _clock;

    protected EmailVerificationTests(DatabaseEngine engine) : this(engine, IdentityApp.NewClock())
    {
    }

    private EmailVerificationTests(DatabaseEngine engine, FakeTimeProvider clock) : base(new Dictionary<string, string?>(), clock, engine) => _clock = clock;

    [Fact]
    public async Task Login_UnverifiedAfterTheGrace_Is403_UntilTheMailedTokenVerifiesTheAddress()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        var token = await Client.LoginOkAsync(email);
        var mail = Assert.Single(await App.ReadMailAsync("Confirm your Portico email address"));
        Assert.Contains($"To: {email}", mail, StringComparison.Ordinal);

        _clock.Advance(TimeSpan.FromDays(1));
        using (var unverified = await Client.LoginAsync(email))
        {
            var problem = await unverified.ReadProblemAsync(HttpStatusCode.Forbidden);
            Assert.Equal("Email not verified", problem.Title);
        }
        using (var refresh = await Client.RefreshAsync(token.RefreshToken))
        {
            await refresh.ReadProblemAsync(HttpStatusCode.Forbidden);
        }

        using (var verify = await VerifyAsync(TokenInMail().Match(mail).Groups[1].Value))
        {
            Assert.Equal(HttpStatusCode.NoContent, verify.StatusCode);
        }
        await Client.LoginOkAsync(email);
    }

    [Fact]
    public async Task Register_TakenAddress_MailsTheOwnerANotice_NotASecondVerification()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);

        await Client.RegisterOkAsync(email, "someone-Else-Password-3");

        Assert.Single(await App.ReadMailAsync("Confirm your Portico email address"));
        var notice = Assert.Single(await App.ReadMailAsync("Someone tried to register your Portico address"));
        Assert.Contains($"To: {email}", notice, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_MadeUpToken_Returns400NamingToken()
    {
        using var verify = await VerifyAsync("made-up");

        await verify.ReadValidationProblemAsync("token");
    }

    private Task<HttpResponseMessage> VerifyAsync(string token) =>
        Client.PostJsonAsync("api/auth/verify-email", new Dictionary<string, string> { ["token"] = token });

    [GeneratedRegex("\"token\": \"([A-Za-z0-9_-]+)\"")]
    private static partial Regex TokenInMail();
}
