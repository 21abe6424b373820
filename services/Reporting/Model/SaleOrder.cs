namespace Portico.Reporting.Model;

/// <summary>
/// One order as Reporting knows it from Ordering's events: the sales read model is these rows and their lines, with
/// the day already worked out, so every report is one indexed query. Either event may come first and either may come
/// twice: <see cref="Placed"/> and <see cref="Cancelled"/> only ever turn true, so applying them in any order, any
/// number of times, ends in the same row. An order counts in the totals when it is placed and not cancelled.
/// </summary>
public sealed class SaleOrder
{
    public Guid OrderId { get; set; }

    /// <summary>The customer (the purchases report of a user is filtered by it).</summary>
    public string? UserId { get; set; }

    /// <summary>The UTC day of <see cref="PlacedAt"/>; null until <c>OrderPlaced</c> arrived.</summary>
    public DateOnly? Day { get; set; }

    public DateTimeOffset? PlacedAt { get; set; }

    public long Total { get; set; }

    /// <summary><c>OrderPlaced</c> arrived: the lines and total are known.</summary>
    public bool Placed { get; set; }

    /// <summary><c>OrderCancelled</c> arrived (possibly before its placement): the order leaves every total.</summary>
    public bool Cancelled { get; set; }

    public DateTimeOffset? CancelledAt { get; set; }

    public List<SaleLine> Lines { get; set; } = [];
}

/// <summary>A line of a placed order: which product, how many, at what unit price (minor units).</summary>
public sealed class SaleLine
{
    public Guid OrderId { get; set; }

    public int Position { get; set; }

    public int ProductId { get; set; }

    public int Quantity { get; set; }

    public long UnitPrice { get; set; }

    public SaleOrder Order { get; set; } = null!;
}
