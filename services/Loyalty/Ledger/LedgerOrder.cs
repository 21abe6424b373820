namespace Portico.Loyalty.Ledger;

/// <summary>
/// What the ledger knows about one order, whatever happened first: written with its accrual, and marked
/// <see cref="Reverted"/> by its revert. A revert that finds no accrual writes the row already reverted (a
/// tombstone), so an accrual arriving later is refused. Its key is the order id: an accrual and a revert of one order
/// racing each other (on PostgreSQL, in different transactions) cannot both insert it, so one sees the other.
/// </summary>
public sealed class LedgerOrder
{
    public required string OrderId { get; set; }

    public bool Reverted { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
