namespace Portico.Loyalty.Ledger;

/// <summary>The numbers that define the ledger: what an accrual earns and what arguments are acceptable.</summary>
public static class LedgerRules
{
    /// <summary>Longest user or order id.</summary>
    public const int MaxIdLength = 100;

    /// <summary>Largest order amount in KRW; keeps every balance far from overflow.</summary>
    public const long MaxAmount = 1_000_000_000_000;

    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    /// <summary>1% of the amount, rounded down: 199 won earns 1 point, 99 won earns none.</summary>
    public static long PointsFor(long amount) => amount / 100;

    /// <summary>Why <paramref name="value"/> is not an acceptable id, or null when it is.</summary>
    public static string? CheckId(string value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return $"{field} is required.";
        }
        if (value.Length > MaxIdLength)
        {
            return $"{field} must be at most {MaxIdLength} characters.";
        }
        if (value.Any(char.IsControl))
        {
            return $"{field} must not contain control characters.";
        }
        return null;
    }

    /// <summary>Why <paramref name="amount"/> is not an acceptable order amount, or null when it is.</summary>
    public static string? CheckAmount(long amount, string field) =>
        amount is < 1 or > MaxAmount ? $"{field} must be a whole number of KRW from 1 to {MaxAmount}." : null;
}
