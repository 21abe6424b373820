using System.Net;
using Portico.ServiceDefaults.Authentication.Revocation;
using Portico.Tests.Common;
using StackExchange.Redis;

namespace Portico.Identity.Tests;

public sealed class RevocationPublishingTestsOnSqlite() : RevocationPublishingTests(DatabaseEngine.Sqlite);

public sealed class RevocationPublishingTestsOnPostgres() : RevocationPublishingTests(DatabaseEngine.Postgres);

/// <summary>
/// Gap 5: what Identity writes to the store for the validators, and that a revocation the store missed — it was down,
/// or restarted empty — is written again from the database.
/// </summary>
public abstract class RevocationPublishingTests(DatabaseEngine engine) : IAsyncLifetime
{
    private IdentityTestDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

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
    public async Task Logout_WritesTheUsersRevocation_ToTheStore_AsTheNextWholeSecond()
    {
        using var store = GarnetTestServer.Start();
        await using var app = _database.NewApp(new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString });
        using var client = app.CreateHttpClient();
        var email = IdentityClient.NewEmail();
        var user = await client.RegisterAndGetUserAsync(email);
        var token = await client.LoginOkAsync(email);
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        using (var logout = await client.PostJsonAsync("api/auth/logout", new Dictionary<string, string> { ["refresh_token"] = token.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        await using var redis = await ConnectionMultiplexer.ConnectAsync(store.ConnectionString);
        var score = (long?)await redis.GetDatabase().SortedSetScoreAsync(TokenRevocationStore.SubjectsKey, user.Id.ToString());
        Assert.NotNull(score);
        Assert.InRange(score.Value, before + 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.True((long)IdentityClient.DecodeJwtPart(token.AccessToken, 1)["iat"]! < score); // the token is covered
        Assert.True((long)await redis.GetDatabase().StringGetAsync(TokenRevocationStore.VersionKey) >= 1);
    }

    [Fact]
    public async Task RevocationTheStoreMissed_IsWrittenOnceTheStoreAnswers_AndReadinessSaysDegradedMeanwhile()
    {
        var port = Ports.GetFreeTcpPort(); // nothing listens there yet
        await using var app = _database.NewApp(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = $"127.0.0.1:{port}",
            ["Identity:Revocation:ResyncInterval"] = "00:00:01",
        });
        using var client = app.CreateHttpClient();
        var email = IdentityClient.NewEmail();
        var user = await client.RegisterAndGetUserAsync(email);
        var token = await client.LoginOkAsync(email);

        // The logout stands (fail open): the revocation is in the database, and Identity itself refuses the token.
        using (var logout = await client.PostJsonAsync("api/auth/logout", new Dictionary<string, string> { ["refresh_token"] = token.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        using (var me = await client.GetMeAsync(token.AccessToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        }
        Assert.Equal("Degraded", await client.GetStringAsync("health/ready", Ct));

        using var store = GarnetTestServer.Start(port);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(store.ConnectionString);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await redis.GetDatabase().SortedSetScoreAsync(TokenRevocationStore.SubjectsKey, user.Id.ToString()) is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the revocation never reached the store");
            await Task.Delay(100, Ct);
        }
        while (await client.GetStringAsync("health/ready", Ct) != "Healthy")
        {
            Assert.True(DateTime.UtcNow < deadline, "readiness stayed degraded");
            await Task.Delay(100, Ct);
        }
    }
}
