namespace Portico.Loyalty.Ledger;

/// <summary>
/// A user's current balance: the sum of their ledger entries, kept beside the ledger and updated in the same
/// transaction, so reading a balance never sums a whole history. Its row is also what writers lock (PostgreSQL).
/// </summary>
public sealed class PointsAccount
{
    public required string UserId { get; set; }

    /// <summary>Never negative (a check constraint says so too).</summary>
    public long Balance { get; set; }
}
