using Portico.Messaging;

namespace Portico.Contracts.Events;

/// <summary>An order was placed. Catalog takes stock down on it; Reporting counts the sale.</summary>
public sealed record OrderPlaced(Guid OrderId, string UserId, long Total, IReadOnlyList<OrderPlacedLine> Items, DateTimeOffset PlacedAt)
    : IIntegrationMessage
{
    public static string MessageType => "OrderPlaced.v1";
}

public sealed record OrderPlacedLine(int ProductId, int Quantity, long UnitPrice);

/// <summary>A placed order was cancelled. Loyalty reverts its points; Catalog puts its stock back.</summary>
public sealed record OrderCancelled(Guid OrderId, string UserId, long Total, DateTimeOffset CancelledAt) : IIntegrationMessage
{
    public static string MessageType => "OrderCancelled.v1";
}
