namespace Portico.Ordering.Model;

/// <summary>
/// What <c>POST /api/orders</c> answered to a user's <c>Idempotency-Key</c>, stored with the order it created (in the
/// same transaction) so a retry gets the same answer and creates nothing. Unique per (user, key).
/// </summary>
public sealed class IdempotencyRecord
{
    public required string UserId { get; set; }

    public required string Key { get; set; }

    /// <summary>SHA-256 (hex) of the request's order lines; the same key with other lines is refused.</summary>
    public required string RequestHash { get; set; }

    public Guid OrderId { get; set; }

    public int StatusCode { get; set; }

    /// <summary>The JSON body of the first answer, replayed byte for byte.</summary>
    public required string ResponseBody { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
