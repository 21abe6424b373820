namespace Portico.Messaging;

/// <summary>What travels beside a message's body on every transport.</summary>
public sealed record MessageEnvelope
{
    /// <summary>Unique per message; the same on every redelivery and retry, so an inbox can drop duplicates.</summary>
    public required Guid MessageId { get; init; }

    /// <summary>The versioned wire name, e.g. <c>OrderPlaced.v1</c>.</summary>
    public required string MessageType { get; init; }

    /// <summary>When the message was first sent.</summary>
    public required DateTimeOffset SentAt { get; init; }

    /// <summary>W3C <c>traceparent</c> of the span that sent it, when there was one.</summary>
    public string? TraceParent { get; init; }

    /// <summary>Ties together the messages of one business flow (e.g. an order id).</summary>
    public string? CorrelationId { get; init; }

    /// <summary>
    /// Orders messages that must stay in order (an aggregate id). The Redis and RabbitMQ transports keep one queue's
    /// order anyway; a partitioned transport (Kafka) would partition by it.
    /// </summary>
    public string? PartitionKey { get; init; }

    /// <summary>The aggregate (e.g. an order id) whose change this event reports, when it reports one.</summary>
    public string? AggregateId { get; init; }

    /// <summary>
    /// The event's place among its aggregate's events, from 1, set by the publisher in the transaction that made the
    /// change (not a clock). Consumers apply an aggregate's events in this order and drop stale ones
    /// (<c>Inbox.InOrderDbContextExtensions.ProcessInOrderAsync</c>).
    /// </summary>
    public long? AggregateSequence { get; init; }

    /// <summary>Which handling attempt this delivery is, from 1. A retry after a failure counts up; a redelivery after a crash does not.</summary>
    public int Attempt { get; init; } = 1;
}

/// <summary>Optional properties of a message being published or sent.</summary>
public sealed record MessageProperties
{
    /// <summary>The message id; a new one when null. The outbox passes its row id, so a republished row keeps its id.</summary>
    public Guid? MessageId { get; init; }

    public string? CorrelationId { get; init; }

    public string? PartitionKey { get; init; }

    /// <summary>The aggregate the event is about; see <see cref="MessageEnvelope.AggregateId"/>.</summary>
    public string? AggregateId { get; init; }

    /// <summary>The event's number among its aggregate's events, from 1; see <see cref="MessageEnvelope.AggregateSequence"/>.</summary>
    public long? AggregateSequence { get; init; }
}

/// <summary>What a handler learns about the message it handles.</summary>
public sealed record MessageContext(MessageEnvelope Envelope, string Queue);
