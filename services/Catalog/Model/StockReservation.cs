namespace Portico.Catalog.Model;

/// <summary>
/// What Catalog did with the stock of one order, keyed by the order id: the record that makes stock changes happen once
/// per order whatever the number and order of the events about it. A cancel that arrives first leaves a
/// <see cref="StockReservationStatus.CancelledBeforePlacement"/> marker, so the placement that follows takes nothing.
/// </summary>
public sealed class StockReservation
{
    public Guid OrderId { get; set; }

    public StockReservationStatus Status { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>The quantities taken (or asked for, when rejected) per product; none for a cancel-first marker.</summary>
    public List<StockReservationLine> Lines { get; set; } = [];
}

public sealed class StockReservationLine
{
    public Guid OrderId { get; set; }

    public int ProductId { get; set; }

    public int Quantity { get; set; }
}

public enum StockReservationStatus
{
    /// <summary>The order's stock was taken.</summary>
    Taken,

    /// <summary>Some line was short: nothing was taken and <c>StockRejected</c> was published.</summary>
    Rejected,

    /// <summary>Taken, then put back when the order was cancelled.</summary>
    Released,

    /// <summary>The cancel arrived before the placement: nothing to put back, and the placement is ignored.</summary>
    CancelledBeforePlacement,
}
