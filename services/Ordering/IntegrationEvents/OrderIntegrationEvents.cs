namespace Portico.Ordering.IntegrationEvents;

/// <summary>An order was placed (outbox type <c>OrderPlaced</c>).</summary>
public sealed record OrderPlacedIntegrationEvent(
    Guid OrderId, string UserId, long Total, IReadOnlyList<OrderPlacedLine> Items, DateTimeOffset PlacedAt)
{
    public const string EventType = "OrderPlaced";
}

public sealed record OrderPlacedLine(int ProductId, int Quantity, long UnitPrice);

/// <summary>A placed order was cancelled (outbox type <c>OrderCancelled</c>); Loyalty reverts its points on it.</summary>
public sealed record OrderCancelledIntegrationEvent(Guid OrderId, string UserId, long Total, DateTimeOffset CancelledAt)
{
    public const string EventType = "OrderCancelled";
}
