using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Portico.Messaging.Tests;

/// <summary>The relay's clean-up, on the relay's clock (a fake one here); the transport is the embedded store.</summary>
public sealed class OutboxRetentionTests(GarnetEngine engine) : IClassFixture<GarnetEngine>, IAsyncDisposable
{
    private readonly TestSetup _setup = TestSetup.New(engine.Require());
    private MessagingTestHost? _host;

    [Fact]
    public async Task PublishedRows_OlderThanTheRetention_AreDeleted_WhileNewerOnesStay()
    {
        var time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        _host = await MessagingTestHost.StartAsync(_setup, new Probe(), new TestHostRole(Consume: false, Relay: true, Time: time));
        var old = await _host.AddToOutboxAsync(Enumerable.Range(1, 3).Select(n => new Ping(n, Ping.Ok)));
        await Eventually.TrueAsync(async () => (await _host.OutboxAsync()).All(m => m.PublishedAt is not null), "the first rows to be published");

        // Seven days (the default retention) and the purge interval later, by the relay's clock.
        time.Advance(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(2));
        var recent = await _host.AddToOutboxAsync([new Ping(4, Ping.Ok)]);

        await Eventually.TrueAsync(async () => (await _host.OutboxAsync()).All(m => !old.Contains(m.Id)), "the old rows to be deleted");
        var left = Assert.Single(await _host.OutboxAsync());
        Assert.Equal(recent.Single(), left.Id);
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        SqliteConnection.ClearAllPools();
        File.Delete(_setup.DatabasePath);
    }
}
