using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Portico.Messaging.Inbox;
using Portico.Messaging.Outbox;

namespace Portico.Messaging.Tests;

/// <summary>An event whose <see cref="Mode"/> tells the test handler how to behave.</summary>
public sealed record Ping(int Number, string Mode) : IIntegrationMessage
{
    public const string Ok = "ok";
    public const string AlwaysFails = "always-fails";
    public const string ParkAfterEffectOnce = "park-after-effect-once";
    public const string WithInbox = "with-inbox";
    public const string FailsUntilFixed = "fails-until-fixed";

    public static string MessageType => "MessagingTests.Ping.v1";
}

/// <summary>A command sent to a named queue.</summary>
public sealed record Work(int Number) : IIntegrationMessage
{
    public static string MessageType => "MessagingTests.Work.v1";
}

[JsonSerializable(typeof(Ping))]
[JsonSerializable(typeof(Work))]
internal sealed partial class TestJsonContext : JsonSerializerContext;

/// <summary>What the handlers saw, per message number, across every host of one test.</summary>
public sealed class Probe
{
    private readonly ConcurrentDictionary<int, ConcurrentQueue<Delivery>> _deliveries = new();

    private readonly ConcurrentQueue<int> _arrivals = new();

    /// <summary>Message numbers in the order their first and later deliveries arrived.</summary>
    public IReadOnlyList<int> Arrivals => [.. _arrivals];

    private readonly ConcurrentDictionary<int, MessageEnvelope> _envelopes = new();

    /// <summary>The envelope of the last delivery of message <paramref name="number"/>.</summary>
    public MessageEnvelope? EnvelopeOf(int number) => _envelopes.GetValueOrDefault(number);

    public void RecordEnvelope(int number, MessageEnvelope envelope) => _envelopes[number] = envelope;

    public int Record(int number, int attempt)
    {
        _arrivals.Enqueue(number);
        var list = _deliveries.GetOrAdd(number, _ => new());
        list.Enqueue(new Delivery(attempt, TimeProvider.System.GetTimestamp()));
        return list.Count;
    }

    private readonly ConcurrentDictionary<int, int> _completed = new();

    /// <summary>Counts a delivery whose handler returned (its transaction, if any, committed).</summary>
    public void Complete(int number) => _completed.AddOrUpdate(number, 1, (_, n) => n + 1);

    private readonly ConcurrentDictionary<int, bool> _fixed = new();

    /// <summary>From now on, <see cref="Ping.FailsUntilFixed"/> message <paramref name="number"/> succeeds.</summary>
    public void Fix(int number) => _fixed[number] = true;

    public bool IsFixed(int number) => _fixed.ContainsKey(number);

    public int CompletedOf(int number) => _completed.GetValueOrDefault(number);

    public IReadOnlyList<Delivery> DeliveriesOf(int number) => _deliveries.TryGetValue(number, out var list) ? [.. list] : [];

    public int DistinctHandled(Func<int, bool> which) => _deliveries.Keys.Count(which);

    public sealed record Delivery(int Attempt, long Timestamp);
}

public sealed class PingHandler(Probe probe, TestDb db, TimeProvider timeProvider) : IMessageHandler<Ping>
{
    public async Task HandleAsync(Ping message, MessageContext context, CancellationToken cancellationToken)
    {
        probe.RecordEnvelope(message.Number, context.Envelope);
        var delivery = probe.Record(message.Number, context.Envelope.Attempt);
        switch (message.Mode)
        {
            case Ping.AlwaysFails:
                throw new InvalidOperationException($"Ping {message.Number} always fails.");
            case Ping.FailsUntilFixed when !probe.IsFixed(message.Number):
                throw new InvalidOperationException($"Ping {message.Number} fails until it is fixed.");
            case Ping.WithInbox or Ping.ParkAfterEffectOnce:
                await db.ProcessOnceAsync(context, nameof(PingHandler), _ =>
                {
                    db.Effects.Add(new Effect { Number = message.Number });
                    return Task.CompletedTask;
                }, timeProvider, cancellationToken);
                if (message.Mode == Ping.ParkAfterEffectOnce && delivery == 1)
                {
                    // The effect is committed, the message not yet acknowledged: stay here until the consumer is stopped.
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                break;
        }
        probe.Complete(message.Number);
    }
}

public sealed class WorkHandler(Probe probe) : IMessageHandler<Work>
{
    public Task HandleAsync(Work message, MessageContext context, CancellationToken cancellationToken)
    {
        probe.Record(message.Number, context.Envelope.Attempt);
        return Task.CompletedTask;
    }
}

public sealed class Effect
{
    public int Id { get; set; }

    public int Number { get; set; }
}

/// <summary>A handler's own database: its effects and its inbox, in SQLite.</summary>
public sealed class TestDb(DbContextOptions<TestDb> options) : DbContext(options)
{
    public DbSet<Effect> Effects => Set<Effect>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite has no ordered date-time type: instants as sortable integers, as the services do.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Effect>().ToTable("Effects");
        modelBuilder.AddInbox();
        modelBuilder.AddAggregateSequences();
        modelBuilder.AddOutbox();
    }
}
