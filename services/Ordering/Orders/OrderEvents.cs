using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Messaging.Outbox;
using Portico.Ordering.Model;

namespace Portico.Ordering.Orders;

/// <summary>
/// The outbox rows of an order's events. Each carries the order id as correlation id, partition key and aggregate id,
/// and the order's <see cref="Order.EventSequence"/> after the change as its aggregate sequence.
/// </summary>
public static class OrderEvents
{
    public const long PlacedSequence = 1;

    public static OutboxMessage Placed(Order order) => OutboxMessage.Create(
        new OrderPlaced(order.Id, order.UserId, order.Total, [.. order.Lines.Select(l => new OrderPlacedLine(l.ProductId, l.Quantity, l.UnitPrice))], order.CreatedAt),
        EventsJsonContext.Default.OrderPlaced,
        order.CreatedAt,
        Properties(order.Id, order.CreatedAt, order.EventSequence));

    /// <summary>The row of <c>OrderCancelled</c>; <paramref name="sequence"/> is the order's event sequence as the cancelling transaction left it.</summary>
    public static OutboxMessage Cancelled(Guid orderId, string userId, long total, DateTimeOffset cancelledAt, long sequence) => OutboxMessage.Create(
        new OrderCancelled(orderId, userId, total, cancelledAt),
        EventsJsonContext.Default.OrderCancelled,
        cancelledAt,
        Properties(orderId, cancelledAt, sequence));

    private static MessageProperties Properties(Guid orderId, DateTimeOffset at, long sequence) => new()
    {
        MessageId = Guid.CreateVersion7(at),
        CorrelationId = orderId.ToString(),
        PartitionKey = orderId.ToString(),
        AggregateId = orderId.ToString(),
        AggregateSequence = sequence,
    };
}
