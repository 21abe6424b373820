using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Portico.Messaging.Outbox;

/// <summary>
/// A message waiting to be published, added to the service's <c>DbContext</c> in the same transaction as the change it
/// reports. The <see cref="OutboxRelay{TContext}"/> publishes rows in order and sets <see cref="PublishedAt"/> once the
/// broker has confirmed.
/// </summary>
public sealed class OutboxMessage
{
    /// <summary>Also the message id, so a row published twice (a relay that lost its lease) is dropped by inboxes.</summary>
    public Guid Id { get; set; }

    /// <summary>The versioned wire name, e.g. <c>OrderPlaced.v1</c>; an event is published to this topic.</summary>
    public required string Type { get; set; }

    /// <summary>The message as JSON.</summary>
    public required string Payload { get; set; }

    /// <summary>A queue to send to (a command); null publishes the event to its topic.</summary>
    public string? Queue { get; set; }

    public string? CorrelationId { get; set; }

    public string? PartitionKey { get; set; }

    /// <summary>The aggregate (e.g. order id) whose change the row reports; null for a message about no aggregate.</summary>
    public string? AggregateId { get; set; }

    /// <summary>
    /// The event's number among its aggregate's events, from 1, taken from a counter the service increments in the same
    /// transaction as the change, so it orders one aggregate's events whatever the instances' clocks say.
    /// </summary>
    public long? AggregateSequence { get; set; }

    /// <summary>The <c>traceparent</c> of the request that wrote the row, so the consumer joins its trace.</summary>
    public string? TraceParent { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? PublishedAt { get; set; }

    /// <summary>How many times a relay tried to publish it and failed.</summary>
    public int Attempts { get; set; }

    /// <summary>When a failed row may be tried again (backoff).</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    public string? LastError { get; set; }

    /// <summary>The relay instance that holds the row, until <see cref="LockedUntil"/>.</summary>
    public string? LockedBy { get; set; }

    public DateTimeOffset? LockedUntil { get; set; }

    /// <summary>A row for <paramref name="message"/>, serialized with its source-generated JSON.</summary>
    public static OutboxMessage Create<TMessage>(TMessage message, JsonTypeInfo<TMessage> jsonTypeInfo, DateTimeOffset createdAt, MessageProperties? properties = null)
        where TMessage : IIntegrationMessage => new()
        {
            Id = properties?.MessageId ?? Guid.CreateVersion7(createdAt),
            Type = TMessage.MessageType,
            Payload = JsonSerializer.Serialize(message, jsonTypeInfo),
            CorrelationId = properties?.CorrelationId,
            PartitionKey = properties?.PartitionKey,
            AggregateId = properties?.AggregateId,
            AggregateSequence = properties?.AggregateSequence,
            TraceParent = Activity.Current?.Id,
            CreatedAt = createdAt,
        };
}

public static class OutboxModelBuilderExtensions
{
    /// <summary>Adds the outbox table (<paramref name="table"/>, <c>Outbox</c> by default) to a service's model.</summary>
    public static ModelBuilder AddOutbox(this ModelBuilder modelBuilder, string table = "Outbox")
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        var outbox = modelBuilder.Entity<OutboxMessage>();
        outbox.ToTable(table);
        outbox.Property(m => m.Type).HasMaxLength(200);
        outbox.Property(m => m.Queue).HasMaxLength(200);
        outbox.Property(m => m.CorrelationId).HasMaxLength(200);
        outbox.Property(m => m.PartitionKey).HasMaxLength(200);
        outbox.Property(m => m.AggregateId).HasMaxLength(200);
        outbox.Property(m => m.TraceParent).HasMaxLength(64);
        outbox.Property(m => m.LockedBy).HasMaxLength(200);
        outbox.Property(m => m.LastError).HasMaxLength(2000);
        outbox.HasIndex(m => new { m.PublishedAt, m.CreatedAt });
        return modelBuilder;
    }
}
