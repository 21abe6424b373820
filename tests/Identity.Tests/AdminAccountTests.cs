using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>Start-up validation of the settings fails before the database is touched: checked on SQLite only.</summary>
public sealed class AdminAccountTestsOnSqlite() : AdminAccountTests(DatabaseEngine.Sqlite)
{
    [Fact]
    public async Task Admin_SeededOutsideDevelopmentWithoutPassword_FailsAtStart()
    {
        await using var app = Database.NewApp(new Dictionary<string, string?>
        {
            ["Identity:Admin:Seed"] = "true",
        }, environment: "Production");

        var error = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains(error.Failures, f => f.Contains("Identity:Admin:Password is required", StringComparison.Ordinal));
        Assert.Empty(GeneratedPasswords(app));
    }

    [Fact]
    public async Task Start_InvalidSettings_FailsListingEveryProblemWithoutEchoingThePassword()
    {
        await using var app = Database.NewApp(new Dictionary<string, string?>
        {
            ["Identity:Issuer"] = " ",
            ["Identity:AccessTokenLifetime"] = "-00:01:00",
            ["Identity:Lockout:MaxFailedAttempts"] = "0",
            ["Identity:SigningKeys:Lifetime"] = "00:05:00",
            ["Identity:Admin:Email"] = "not-an-email",
            ["Identity:Admin:Password"] = "tooshort",
        });

        var error = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains(error.Failures, f => f.Contains("Identity:Issuer", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Identity:AccessTokenLifetime", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Identity:Lockout:MaxFailedAttempts", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Identity:Admin:Email", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Identity:Admin:Password", StringComparison.Ordinal));
        Assert.DoesNotContain("tooshort", error.Message, StringComparison.Ordinal);
    }
}

public sealed class AdminAccountTestsOnPostgres() : AdminAccountTests(DatabaseEngine.Postgres);

/// <summary>The seeded administrator, and start-up validation of the settings.</summary>
public abstract class AdminAccountTests(DatabaseEngine engine) : IAsyncLifetime
{
    protected const string AdminEmail = "admin@portico.local";

    protected IdentityTestDatabase Database { get; private set; } = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => Database = await IdentityTestDatabase.CreateAsync(engine);

    public async ValueTask DisposeAsync()
    {
        if (Database is not null)
        {
            await Database.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Admin_WithConfiguredPassword_CanLogInAndHasTheAdminRole()
    {
        await using var app = Database.NewApp(new Dictionary<string, string?>
        {
            ["Identity:Admin:Email"] = "root@portico.test",
            ["Identity:Admin:Password"] = "configured-Admin-pass-9",
        });
        using var client = app.CreateHttpClient();

        var token = await client.LoginOkAsync("root@portico.test", "configured-Admin-pass-9");

        Assert.Equal("admin", (string?)IdentityClient.DecodeJwtPart(token.AccessToken, 1)["role"]);
        using var me = await client.GetMeAsync(token.AccessToken);
        var user = await me.Content.ReadFromJsonAsync<CurrentUserDto>(Ct);
        Assert.Equal(("root@portico.test", "admin"), (user!.Email, user.Role));
        Assert.DoesNotContain(app.Logs.GetSnapshot(), r => r.Message.Contains("configured-Admin-pass-9", StringComparison.Ordinal));
    }

    // Gap 9: the generated password was logged at Warning level, and so exported over OpenTelemetry.
    [Fact]
    public async Task Admin_WithoutConfiguredPasswordInDevelopment_GetsARandomOnePrintedOnceToTheConsoleAndNeverLogged()
    {
        string password;
        await using (var first = Database.NewApp())
        {
            using var client = first.CreateHttpClient();
            password = Assert.Single(GeneratedPasswords(first));
            Assert.True(password.Length >= 20);
            Assert.DoesNotContain(first.Logs.GetSnapshot(), r =>
                r.Message.Contains(password, StringComparison.Ordinal)
                || r.StructuredState?.Any(p => p.Value?.Contains(password, StringComparison.Ordinal) == true) == true);
            Assert.Contains(first.Logs.GetSnapshot(), r => r.Message.Contains("printed once to the console", StringComparison.Ordinal));

            var token = await client.LoginOkAsync(AdminEmail, password);
            Assert.Equal("admin", (string?)IdentityClient.DecodeJwtPart(token.AccessToken, 1)["role"]);
        }

        // A restart finds the account: no new password, nothing printed again.
        await using var second = Database.NewApp();
        using var again = second.CreateHttpClient();
        Assert.Empty(GeneratedPasswords(second));
        await again.LoginOkAsync(AdminEmail, password);
    }

    [Fact]
    public async Task Admin_TwoStartsWithDifferentRandomPasswords_DoNotCollide()
    {
        await using var a = Database.NewApp();
        await using var b = Database.NewApp();

        await Task.WhenAll(Task.Run(() => a.Address, Ct), Task.Run(() => b.Address, Ct));

        Assert.Single(GeneratedPasswords(a).Concat(GeneratedPasswords(b)));
    }

    [Fact]
    public async Task Admin_OutsideDevelopment_IsNotSeededUnlessAskedFor()
    {
        await using var app = Database.NewApp(new Dictionary<string, string?>
        {
            ["Identity:Admin:Password"] = "configured-Admin-pass-9",
        }, environment: "Production");
        using var client = app.CreateHttpClient();

        using var response = await client.LoginAsync(AdminEmail, "configured-Admin-pass-9");

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Admin_SeedTrueInProduction_IsSeeded()
    {
        await using var app = Database.NewApp(new Dictionary<string, string?>
        {
            ["Identity:Admin:Seed"] = "true",
            ["Identity:Admin:Password"] = "configured-Admin-pass-9",
        }, environment: "Production");
        using var client = app.CreateHttpClient();

        await client.LoginOkAsync(AdminEmail, "configured-Admin-pass-9");
    }

    [Fact]
    public async Task Admin_AddressAlreadyHeldByAnOrdinaryAccount_IsNotPromoted()
    {
        await using (var production = Database.NewApp(environment: "Production"))
        {
            using var client = production.CreateHttpClient();
            await client.RegisterOkAsync(AdminEmail, "squatter-Password-77");
        }

        await using var development = Database.NewApp(new Dictionary<string, string?>
        {
            ["Identity:Admin:Password"] = "configured-Admin-pass-9",
        });
        using var again = development.CreateHttpClient();

        var token = await again.LoginOkAsync(AdminEmail, "squatter-Password-77");
        Assert.Equal("user", (string?)IdentityClient.DecodeJwtPart(token.AccessToken, 1)["role"]);
        Assert.Contains(development.Logs.GetSnapshot(), r => r.Message.Contains("was not promoted", StringComparison.Ordinal));
    }

    protected static List<string> GeneratedPasswords(IdentityApp app) =>
        System.Text.RegularExpressions.Regex.Matches(app.ConsoleOutput.ToString(), "generated password is: (\\S+)")
            .Select(m => m.Groups[1].Value)
            .ToList();
}
