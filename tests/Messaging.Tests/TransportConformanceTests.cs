using System.Diagnostics.Metrics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Portico.Tests.Common;

namespace Portico.Messaging.Tests;

/// <summary>
/// What every transport must do, run against each: the embedded Garnet, Redis 7 and RabbitMQ (subclasses below). Each
/// test has its own namespace and queues, so tests share a broker without seeing each other's messages.
/// </summary>
public abstract class TransportConformanceTests(BrokerEngine engine) : IAsyncLifetime
{
    private readonly List<MessagingTestHost> _hosts = [];
    private TestSetup? _setup;

    protected TestSetup Setup => _setup ??= TestSetup.New(engine.Require());

    protected Probe Probe { get; } = new();

    private async Task<MessagingTestHost> StartHostAsync(TestHostRole? role = null)
    {
        var host = await MessagingTestHost.StartAsync(Setup, Probe, role);
        _hosts.Add(host);
        return host;
    }

    [Fact]
    public async Task OutboxRows_RelayedByTwoInstances_ArePublishedOnceEach_InOrder()
    {
        await StartHostAsync(new TestHostRole(Concurrency: 1));
        var relayA = await StartHostAsync(new TestHostRole(Consume: false, Relay: true));
        await StartHostAsync(new TestHostRole(Consume: false, Relay: true));

        await relayA.AddToOutboxAsync(Enumerable.Range(1, 200).Select(n => new Ping(n, Ping.Ok)));

        await Eventually.TrueAsync(() => Probe.DistinctHandled(_ => true) == 200, "all 200 outbox rows to be handled");
        await Eventually.TrueAsync(async () => (await relayA.OutboxAsync()).All(m => m.PublishedAt is not null), "every row to be marked published");
        // One consumer handling one at a time sees the outbox order, each row once.
        Assert.Equal(Enumerable.Range(1, 200), Probe.Arrivals);
    }

    [Fact]
    public async Task OutboxRelay_ThroughABrokerOutage_PublishesEveryRowOnceItIsReachable()
    {
        await using var proxy = TcpProxy.Start(BrokerAddress.PortOf(Setup.Broker));
        var host = await StartHostAsync(new TestHostRole(Relay: true, Broker: BrokerAddress.WithPort(Setup.Broker, proxy.Port)));

        await proxy.CutAsync();
        await host.AddToOutboxAsync(Enumerable.Range(1, 20).Select(n => new Ping(n, Ping.Ok)));
        await Eventually.TrueAsync(async () => (await host.OutboxAsync()).Any(m => m.Attempts > 0), "the relay to fail while the broker is unreachable");
        Assert.Empty(Probe.Arrivals);

        proxy.Open();

        // The same host's connection recovers: its relay publishes, its consumer handles.
        await Eventually.TrueAsync(() => Probe.DistinctHandled(_ => true) == 20, "all 20 rows to be handled after the outage", TimeSpan.FromSeconds(45));
        await Eventually.TrueAsync(async () => (await host.OutboxAsync()).All(m => m.PublishedAt is not null), "every row to be marked published");
    }

    [Fact]
    public async Task OutboxRow_AggregateIdAndSequence_ReachTheHandlersEnvelope()
    {
        var host = await StartHostAsync(new TestHostRole(Relay: true));

        await host.AddToOutboxAsync(new Ping(7, Ping.Ok), new MessageProperties { AggregateId = "order-7", AggregateSequence = 2, PartitionKey = "order-7" });

        await Eventually.TrueAsync(() => Probe.EnvelopeOf(7) is not null, "the row to be handled");
        var envelope = Probe.EnvelopeOf(7)!;
        Assert.Equal(("order-7", 2L), (envelope.AggregateId, envelope.AggregateSequence));
    }

    [Fact]
    public async Task PublishedEvent_IsHandledBySubscriber()
    {
        await StartHostAsync();
        var publisher = await StartHostAsync(new TestHostRole(Consume: false));

        await publisher.Bus.PublishAsync(new Ping(1, Ping.Ok), cancellationToken: TestContext.Current.CancellationToken);

        await Eventually.TrueAsync(() => Probe.DeliveriesOf(1).Count > 0, "the event to be handled");
        var delivery = Assert.Single(Probe.DeliveriesOf(1));
        Assert.Equal(1, delivery.Attempt);
    }

    [Fact]
    public async Task SentCommand_IsHandledFromItsNamedQueue()
    {
        var host = await StartHostAsync();

        await host.Bus.SendAsync(Setup.WorkQueue, new Work(5), cancellationToken: TestContext.Current.CancellationToken);

        await Eventually.TrueAsync(() => Probe.DeliveriesOf(5).Count > 0, "the command to be handled");
        Assert.Single(Probe.DeliveriesOf(5));
    }

    [Fact]
    public async Task HandlerThatThrows_IsRetriedWithIncreasingDelay_ThenDeadLetteredWithErrorAndAttempts_WhileMessagesBehindItAreHandled()
    {
        var host = await StartHostAsync();
        var ct = TestContext.Current.CancellationToken;
        using var handled = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Portico.Messaging", "portico.messaging.handled");

        await host.Bus.PublishAsync(new Ping(0, Ping.AlwaysFails), cancellationToken: ct);
        for (var i = 1; i <= 100; i++)
        {
            await host.Bus.PublishAsync(new Ping(i, Ping.Ok), cancellationToken: ct);
        }

        await Eventually.TrueAsync(() => Probe.DistinctHandled(n => n >= 1) == 100, "the 100 messages behind the poison one to be handled");
        IReadOnlyList<Transport.DeadLetter> letters = [];
        await Eventually.TrueAsync(async () => (letters = await host.Transport.PeekDeadLettersAsync(Setup.Queue, 10, ct)).Count > 0, "the poison message to be dead-lettered");

        var letter = Assert.Single(letters);
        Assert.Equal(Ping.MessageType, letter.Envelope.MessageType);
        Assert.Equal(3, letter.Envelope.Attempt);
        Assert.Contains("Ping 0 always fails.", letter.Error, StringComparison.Ordinal);
        Assert.Contains("\"mode\"", System.Text.Encoding.UTF8.GetString(letter.Body.Span), StringComparison.OrdinalIgnoreCase);

        // Three attempts, numbered, each retry later than the one before by at least the configured backoff (0.2 s, then 0.4 s).
        var attempts = Probe.DeliveriesOf(0);
        Assert.Equal([1, 2, 3], attempts.Select(a => a.Attempt));
        var firstGap = TimeProvider.System.GetElapsedTime(attempts[0].Timestamp, attempts[1].Timestamp);
        var secondGap = TimeProvider.System.GetElapsedTime(attempts[1].Timestamp, attempts[2].Timestamp);
        Assert.True(firstGap >= TimeSpan.FromMilliseconds(190), $"first retry after {firstGap}");
        Assert.True(secondGap >= TimeSpan.FromMilliseconds(390), $"second retry after {secondGap}");
        Assert.All(Enumerable.Range(1, 100), n => Assert.Single(Probe.DeliveriesOf(n)));

        // The meter tells operators the same story.
        long Count(string outcome) => handled.GetMeasurementSnapshot().Where(m => Equals(m.Tags["outcome"], outcome)).Sum(m => m.Value);
        Assert.Equal(100, Count("completed"));
        Assert.Equal(2, Count("retried"));
        Assert.Equal(1, Count("dead_lettered"));
    }

    [Fact]
    public async Task DeadLetter_ReplayedAfterTheCauseIsFixed_IsHandledFromAttemptOne()
    {
        var host = await StartHostAsync();
        var ct = TestContext.Current.CancellationToken;
        await host.Bus.PublishAsync(new Ping(3, Ping.FailsUntilFixed), cancellationToken: ct);
        await Eventually.TrueAsync(async () => (await host.Transport.PeekDeadLettersAsync(Setup.Queue, 10, ct)).Count == 1, "the failing message to be dead-lettered");

        Probe.Fix(3);
        var replayed = await host.Transport.ReplayDeadLettersAsync(Setup.Queue, 10, ct);

        Assert.Equal(1, replayed);
        await Eventually.TrueAsync(() => Probe.CompletedOf(3) == 1, "the replayed message to be handled");
        Assert.Equal([1, 2, 3, 1], Probe.DeliveriesOf(3).Select(d => d.Attempt));
        Assert.Empty(await host.Transport.PeekDeadLettersAsync(Setup.Queue, 10, ct));
    }

    [Fact]
    public async Task BodyThatDoesNotParse_IsDeadLetteredAtOnce_AndTheMessageBehindItIsHandled()
    {
        var host = await StartHostAsync();
        var ct = TestContext.Current.CancellationToken;
        var envelope = new MessageEnvelope { MessageId = Guid.NewGuid(), MessageType = Work.MessageType, SentAt = TimeProvider.System.GetUtcNow() };

        await host.Transport.SendAsync(Setup.WorkQueue, new Transport.TransportMessage(envelope, "{\"number\": \"not a number\""u8.ToArray()), ct);
        await host.Bus.SendAsync(Setup.WorkQueue, new Work(11), cancellationToken: ct);

        await Eventually.TrueAsync(() => Probe.DeliveriesOf(11).Count == 1, "the message behind the unreadable one to be handled");
        IReadOnlyList<Transport.DeadLetter> letters = [];
        await Eventually.TrueAsync(async () => (letters = await host.Transport.PeekDeadLettersAsync(Setup.WorkQueue, 10, ct)).Count > 0, "the unreadable message to be dead-lettered");
        var letter = Assert.Single(letters);
        Assert.Equal(envelope.MessageId, letter.Envelope.MessageId);
        Assert.Equal(1, letter.Envelope.Attempt);
        Assert.Contains("JsonException", letter.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConsumerStoppedBetweenHandlingAndAck_MessageIsRedeliveredToAnother_AndTheInboxKeepsTheEffectSingle()
    {
        var first = await StartHostAsync();
        await first.Bus.PublishAsync(new Ping(7, Ping.ParkAfterEffectOnce), cancellationToken: TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(async () => await first.EffectsOfAsync(7) == 1, "the first delivery's effect to be committed");

        // The handler is parked after its effect: stopping the host now leaves the delivery unacknowledged.
        await first.StopAsync();
        var second = await StartHostAsync();

        await Eventually.TrueAsync(() => Probe.CompletedOf(7) >= 1, "the unacknowledged message to be delivered again and handled");
        Assert.True(Probe.DeliveriesOf(7).Count >= 2);
        Assert.Equal(1, await second.EffectsOfAsync(7));
    }

    [Fact]
    public async Task DuplicateDelivery_WithInbox_HasItsEffectOnce()
    {
        var host = await StartHostAsync();
        var ct = TestContext.Current.CancellationToken;
        var properties = new MessageProperties { MessageId = Guid.NewGuid() };

        await host.Bus.PublishAsync(new Ping(9, Ping.WithInbox), properties, ct);
        await host.Bus.PublishAsync(new Ping(9, Ping.WithInbox), properties, ct);

        await Eventually.TrueAsync(() => Probe.CompletedOf(9) == 2, "both deliveries to be handled");
        Assert.Equal(1, await host.EffectsOfAsync(9));
    }

    [Fact]
    public async Task QueueDepth_CountsWaitingMessages_ThenNoneOnceConsumed_AndTheDeadLettered()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await StartHostAsync();
        var publisher = await StartHostAsync(new TestHostRole(Consume: false));
        var never = await publisher.Transport.GetQueueDepthAsync(Setup.Queue + ".never-used", ct);
        Assert.Equal(new Transport.QueueDepth(0, never!.InFlight, 0, 0, 0), never);

        // The subscribed queue stays; with its consumer stopped, what is published waits in it.
        await first.StopAsync();
        for (var i = 1; i <= 3; i++)
        {
            await publisher.Bus.PublishAsync(new Ping(i, Ping.Ok), cancellationToken: ct);
        }
        var waiting = await publisher.Transport.GetQueueDepthAsync(Setup.Queue, ct);
        Assert.NotNull(waiting);
        Assert.Equal(3, waiting.Waiting);

        await StartHostAsync();
        Transport.QueueDepth? depth = null;
        await Eventually.TrueAsync(async () => (depth = await publisher.Transport.GetQueueDepthAsync(Setup.Queue, ct)) is { Waiting: 0, Consumers: >= 1 }
            && Probe.DistinctHandled(n => n <= 3) == 3, "the waiting messages to be consumed");

        await publisher.Bus.PublishAsync(new Ping(0, Ping.AlwaysFails), cancellationToken: ct);
        await Eventually.TrueAsync(async () => (depth = await publisher.Transport.GetQueueDepthAsync(Setup.Queue, ct))!.DeadLettered == 1, "the poison message to be counted as dead-lettered");
        Assert.Equal((0L, 0L), (depth!.Waiting, depth.Delayed));
        if (engine is RabbitMqEngine)
        {
            Assert.Null(depth.InFlight); // AMQP does not tell; the depth says so rather than guessing
        }
        else
        {
            Assert.Equal(0, depth.InFlight);
        }
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
        if (_setup is not null)
        {
            await engine.CleanUpAsync(_setup);
            SqliteConnection.ClearAllPools();
            File.Delete(_setup.DatabasePath);
        }
        GC.SuppressFinalize(this);
    }
}

public sealed class GarnetTransportTests(GarnetEngine engine) : TransportConformanceTests(engine), IClassFixture<GarnetEngine>;

public sealed class RedisTransportTests(RedisEngine engine) : TransportConformanceTests(engine), IClassFixture<RedisEngine>;

public sealed class RabbitMqTransportTests(RabbitMqEngine engine) : TransportConformanceTests(engine), IClassFixture<RabbitMqEngine>;
