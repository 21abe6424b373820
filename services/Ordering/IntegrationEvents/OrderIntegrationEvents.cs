namespace Portico.Ordering.IntegrationEvents;

/// <summary>An order was placed (message type <c>OrderPlaced.v1</c>).</summary>
public sealed record OrderPlacedIntegrationEvent(
    Guid OrderId, string UserId, long Total, IReadOnlyList<OrderPlacedLine> Items, DateTimeOffset PlacedAt)
{
    public const string EventType = "OrderPlaced.v1";
}

public sealed record OrderPlacedLine(int ProductId, int Quantity, long UnitPrice);

/// <summary>A placed order was cancelled (message type <c>OrderCancelled.v1</c>); Loyalty reverts its points on it.</summary>
public sealed record OrderCancelledIntegrationEvent(Guid OrderId, string UserId, long Total, DateTimeOffset CancelledAt)
{
    public const string EventType = "OrderCancelled.v1";
}
