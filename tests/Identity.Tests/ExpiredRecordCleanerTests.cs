using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Portico.Identity.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class ExpiredRecordCleanerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = IdentityApp.NewClock();
    private readonly IdentityApp _app;
    private HttpClient _client = null!;

    public ExpiredRecordCleanerTests() => _app = new IdentityApp(TestDatabases.NewPath("identity"), timeProvider: _clock);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _client = _app.CreateHttpClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        TestDatabases.Delete(_app.DatabasePath);
    }

    [Fact]
    public async Task Clean_RemovesOnlyCountersAndTokensThatCanNoLongerMatter()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        await _client.LoginOkAsync(email);
        (await _client.LoginAsync(IdentityClient.NewEmail("stale"), "wrong-Password-123")).Dispose();

        _clock.Advance(TimeSpan.FromMinutes(16));
        var locked = IdentityClient.NewEmail("locked");
        for (var i = 0; i < 5; i++)
        {
            (await _client.LoginAsync(locked, "wrong-Password-123")).Dispose();
        }
        await CleanAsync();

        Assert.Equal((1, 1, 1), await CountAsync());

        _clock.Advance(TimeSpan.FromDays(14));
        await CleanAsync();

        Assert.Equal((0, 0, 0), await CountAsync());
        await _client.LoginOkAsync(email);
    }

    private Task CleanAsync() => _app.Services.GetRequiredService<ExpiredRecordCleaner>().CleanAsync(Ct);

    private async Task<(int Throttles, int Tokens, int Families)> CountAsync()
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        return (await db.LoginThrottles.CountAsync(Ct), await db.RefreshTokens.CountAsync(Ct), await db.RefreshTokenFamilies.CountAsync(Ct));
    }
}
