using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Portico.Identity.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class ExpiredRecordCleanerTestsOnSqlite() : ExpiredRecordCleanerTests(DatabaseEngine.Sqlite);

public sealed class ExpiredRecordCleanerTestsOnPostgres() : ExpiredRecordCleanerTests(DatabaseEngine.Postgres);

public abstract class ExpiredRecordCleanerTests : IdentityHostFixture
{
    private readonly FakeTimeProvider _clock;

    protected ExpiredRecordCleanerTests(DatabaseEngine engine) : this(engine, IdentityApp.NewClock())
    {
    }

    private ExpiredRecordCleanerTests(DatabaseEngine engine, FakeTimeProvider clock) : base(new Dictionary<string, string?>(), clock, engine) => _clock = clock;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Clean_RemovesOnlyCountersAndTokensThatCanNoLongerMatter()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        await App.VerifyEmailAsync(Client, email);
        await Client.LoginOkAsync(email);
        (await Client.LoginAsync(IdentityClient.NewEmail("stale"), "wrong-Password-123")).Dispose();

        // A day later (the lockout window) the stale email's counters are forgotten; the locked pair's, its
        // email's and the address's are not.
        _clock.Advance(TimeSpan.FromDays(1));
        var locked = IdentityClient.NewEmail("locked");
        for (var i = 0; i < 5; i++)
        {
            (await Client.LoginAsync(locked, "wrong-Password-123")).Dispose();
        }
        await CleanAsync();

        Assert.Equal((3, 1, 1), await CountAsync());

        _clock.Advance(TimeSpan.FromDays(14));
        await CleanAsync();

        Assert.Equal((0, 0, 0), await CountAsync());
        await Client.LoginOkAsync(email);
    }

    private Task CleanAsync() => App.Services.GetRequiredService<ExpiredRecordCleaner>().CleanAsync(Ct);

    private async Task<(int Throttles, int Tokens, int Families)> CountAsync()
    {
        await using var scope = App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        return (await db.LoginThrottles.CountAsync(Ct), await db.RefreshTokens.CountAsync(Ct), await db.RefreshTokenFamilies.CountAsync(Ct));
    }
}
