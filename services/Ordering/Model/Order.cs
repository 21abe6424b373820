namespace Portico.Ordering.Model;

/// <summary>A user's order: what they bought at the prices Catalog gave when they placed it. Amounts are whole KRW.</summary>
public sealed class Order
{
    public Guid Id { get; set; }

    /// <summary>The <c>sub</c> of the token that placed it; only that user sees it.</summary>
    public required string UserId { get; set; }

    public OrderStatus Status { get; set; }

    /// <summary>Σ unit price × quantity over the lines, in KRW.</summary>
    public long Total { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? CancelledAt { get; set; }

    /// <summary>When the order last changed (placed, cancelled): what service clients page by (<c>/internal/orders</c>).</summary>
    public DateTimeOffset ChangedAt { get; set; }

    /// <summary>
    /// How many events this order has published: 1 once placed, one more per later change, incremented in the
    /// transaction that writes the event's outbox row. Each event carries it as its aggregate sequence, so consumers
    /// order one order's events by it rather than by the clocks of the instances that wrote them.
    /// </summary>
    public long EventSequence { get; set; }

    /// <summary>Why a cancelled order was cancelled: <see cref="CancellationReasons.User"/> or <see cref="CancellationReasons.OutOfStock"/>.</summary>
    public string? CancellationReason { get; set; }

    public List<OrderLine> Lines { get; set; } = [];
}

/// <summary>One product of an order, with the price it had when the order was placed.</summary>
public sealed class OrderLine
{
    public Guid OrderId { get; set; }

    /// <summary>Position in the order as the client sent it, from 0.</summary>
    public int Position { get; set; }

    public int ProductId { get; set; }

    /// <summary>Catalog's name when the order was placed.</summary>
    public required string ProductName { get; set; }

    /// <summary>Catalog's price in KRW when the order was placed.</summary>
    public long UnitPrice { get; set; }

    public int Quantity { get; set; }
}

public enum OrderStatus
{
    Placed,
    Cancelled,
}

/// <summary>The values of <see cref="Order.CancellationReason"/>, as the API shows them.</summary>
public static class CancellationReasons
{
    public const int MaxLength = 32;

    /// <summary>The user cancelled it (<c>POST /api/orders/{id}/cancel</c>).</summary>
    public const string User = "user";

    /// <summary>Catalog could not take its stock (<c>StockRejected.v1</c>).</summary>
    public const string OutOfStock = "out-of-stock";
}
