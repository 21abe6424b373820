using Portico.Messaging;

namespace Portico.Contracts.Events;

/// <summary>
/// Catalog could not take the stock of a placed order: the products in <paramref name="ProductIds"/> were short (or
/// unknown), and none of the order's stock was taken. Ordering cancels the order with reason <c>out-of-stock</c>.
/// </summary>
public sealed record StockRejected(Guid OrderId, IReadOnlyList<int> ProductIds, DateTimeOffset RejectedAt) : IIntegrationMessage
{
    public static string MessageType => "StockRejected.v1";
}

/// <summary>A product was created or changed through Catalog's write API. The gateway purges its cached product answers.</summary>
public sealed record ProductChanged(int ProductId, DateTimeOffset ChangedAt) : IIntegrationMessage
{
    public static string MessageType => "ProductChanged.v1";
}
