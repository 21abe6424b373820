using Microsoft.EntityFrameworkCore;
using Portico.Messaging.Inbox;
using Portico.Tests.Common;

namespace Portico.Messaging.Tests;

/// <summary>
/// <see cref="InOrderDbContextExtensions.ProcessInOrderAsync"/> on a real SQLite file: an aggregate's events are applied
/// once each, an older one arriving after a newer one is ignored (stale), and a consumer that waits for earlier events
/// has a message that skips one retried rather than applied.
/// </summary>
public sealed class InOrderTests : IAsyncLifetime
{
    private const string Consumer = "in-order-tests";
    private readonly string _path = TestDatabases.NewPath("messaging-in-order");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await using var db = NewDb();
        await db.Database.EnsureCreatedAsync(Ct);
    }

    public ValueTask DisposeAsync()
    {
        TestDatabases.Delete(_path);
        return ValueTask.CompletedTask;
    }

    private TestDb NewDb() => new(new DbContextOptionsBuilder<TestDb>().UseSqlite($"Data Source={_path}").Options);

    private static MessageContext Event(string aggregate, long sequence, Guid? id = null) => new(new MessageEnvelope
    {
        MessageId = id ?? Guid.NewGuid(),
        MessageType = Ping.MessageType,
        SentAt = TimeProvider.System.GetUtcNow(),
        AggregateId = aggregate,
        AggregateSequence = sequence,
    }, "test");

    private async Task<MessageDisposition> ApplyAsync(MessageContext context, int number, bool waitForEarlier = false)
    {
        await using var db = NewDb();
        return await db.ProcessInOrderAsync(context, Consumer, _ =>
        {
            db.Effects.Add(new Effect { Number = number });
            return Task.CompletedTask;
        }, TimeProvider.System, Ct, waitForEarlier);
    }

    private async Task<int[]> EffectsAsync()
    {
        await using var db = NewDb();
        return [.. (await db.Effects.AsNoTracking().OrderBy(e => e.Id).ToListAsync(Ct)).Select(e => e.Number)];
    }

    [Fact]
    public async Task NewerThenOlder_TheOlderIsStale_AndARedeliveryIsADuplicate()
    {
        var aggregate = Guid.NewGuid().ToString();
        var cancelled = Event(aggregate, 2);

        Assert.Equal(MessageDisposition.Apply, await ApplyAsync(cancelled, 2));
        Assert.Equal(MessageDisposition.Stale, await ApplyAsync(Event(aggregate, 1), 1));
        Assert.Equal(MessageDisposition.Duplicate, await ApplyAsync(cancelled, 2));
        Assert.Equal(MessageDisposition.Apply, await ApplyAsync(Event(aggregate, 3), 3));
        Assert.Equal(MessageDisposition.Apply, await ApplyAsync(Event(Guid.NewGuid().ToString(), 1), 10));

        var effects = await EffectsAsync();
        Assert.Equal(new[] { 2, 3, 10 }, effects);
    }

    [Fact]
    public async Task WaitingForEarlier_AGapIsRetriedNotApplied_UntilTheEarlierEventArrives()
    {
        var aggregate = Guid.NewGuid().ToString();
        var second = Event(aggregate, 2);

        await Assert.ThrowsAsync<EarlierEventMissingException>(() => ApplyAsync(second, 2, waitForEarlier: true));
        Assert.Equal(MessageDisposition.Apply, await ApplyAsync(Event(aggregate, 1), 1, waitForEarlier: true));
        Assert.Equal(MessageDisposition.Apply, await ApplyAsync(second, 2, waitForEarlier: true));

        var effects = await EffectsAsync();
        Assert.Equal(new[] { 1, 2 }, effects);
    }

    [Fact]
    public async Task ConcurrentDeliveriesOfOneAggregatesEvents_EachAppliedOnce_NoneBehindANewerOne()
    {
        var aggregate = Guid.NewGuid().ToString();
        var events = Enumerable.Range(1, 10).Select(n => Event(aggregate, n)).ToList();
        // Every event delivered three times, all at once.
        var deliveries = events.SelectMany(e => Enumerable.Repeat(e, 3)).OrderBy(_ => Random.Shared.Next()).ToList();

        var outcomes = await Task.WhenAll(deliveries.Select(d => Task.Run(() => ApplyAsync(d, (int)d.Envelope.AggregateSequence!.Value), Ct)));

        var applied = await EffectsAsync();
        Assert.Equal(applied.Distinct(), applied);
        // Whatever was applied went in ascending order: nothing older landed after something newer.
        Assert.Equal(applied.Order(), applied);
        Assert.Contains(10, applied);
        Assert.Equal(applied.Length, outcomes.Count(o => o == MessageDisposition.Apply));
    }
}
