namespace Portico.Loyalty.Ledger;

/// <summary>
/// One line of a user's points ledger. Entries are only ever added: a reversal is a new entry with negative
/// points, never an edit (<see cref="Infrastructure.LoyaltyDbContext"/> refuses to save a change to one).
/// </summary>
public sealed class LedgerEntry
{
    /// <summary>Increases with every entry written, so it orders a user's entries.</summary>
    public long Id { get; set; }

    public required string UserId { get; set; }

    public required string OrderId { get; set; }

    public LedgerEntryKind Kind { get; set; }

    /// <summary>Positive for an accrual, negative for a reversal.</summary>
    public long Points { get; set; }

    /// <summary>The order amount in KRW the accrual was computed from; a reversal repeats it.</summary>
    public long Amount { get; set; }

    /// <summary>The user's balance right after this entry.</summary>
    public long BalanceAfter { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

public enum LedgerEntryKind
{
    Accrual = 1,
    Reversal = 2,
}
