namespace Portico.Ordering.Model;

/// <summary>
/// An integration event waiting to be published, written in the same transaction as the change it reports.
/// A relay (with the messaging building block) publishes rows whose <see cref="PublishedAt"/> is null and
/// retries until the broker confirms; until then rows simply accumulate.
/// </summary>
public sealed class OutboxMessage
{
    /// <summary>Also the event's message id, so consumers can drop duplicates.</summary>
    public Guid Id { get; set; }

    /// <summary>The event's name, e.g. <c>OrderPlaced</c>.</summary>
    public required string Type { get; set; }

    /// <summary>The event as JSON (camelCase).</summary>
    public required string Payload { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? PublishedAt { get; set; }

    /// <summary>How many times the relay tried to publish it.</summary>
    public int Attempts { get; set; }
}
