namespace Portico.ServiceDefaults.Http;

/// <summary>
/// The <c>Idempotency-Key</c> request header as every Portico process accepts it: one value of 1 to
/// <see cref="MaxLength"/> printable ASCII characters without spaces (a UUID, say). One limit for all, so the gateway
/// refuses at its door what Ordering would refuse behind it, instead of starting a purchase that cannot place its order.
/// </summary>
public static class IdempotencyKeys
{
    public const string HeaderName = "Idempotency-Key";

    /// <summary>Ordering keeps keys in a column of this width.</summary>
    public const int MaxLength = 100;

    /// <summary>The rule in words, for problem details.</summary>
    public static readonly string Rule = $"1 to {MaxLength} printable ASCII characters without spaces, such as a UUID";

    public static bool IsValid(string? key) => key is { Length: > 0 and <= MaxLength } && key.All(c => c is >= '!' and <= '~');
}
