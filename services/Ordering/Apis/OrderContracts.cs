using System.Text.Json;
using System.Text.Json.Serialization;
using Portico.Ordering.Model;

namespace Portico.Ordering.Apis;

/// <summary>An order as the API shows it (camelCase JSON). Amounts are whole KRW.</summary>
/// <remarks><c>cancellationReason</c> (<c>user</c> or <c>out-of-stock</c>) is there on a cancelled order only.</remarks>
public sealed record OrderResponse(
    Guid Id, string Status, IReadOnlyList<OrderLineResponse> Items, long Total, DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CancellationReason)
{
    /// <summary>The options the framework writes responses with, for bodies stored and replayed by hand.</summary>
    internal static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web);

    public static OrderResponse From(Order order) => new(
        order.Id,
        order.Status.ToString(),
        [.. order.Lines.OrderBy(l => l.Position).Select(l => new OrderLineResponse(l.ProductId, l.ProductName, l.UnitPrice, l.Quantity, l.UnitPrice * l.Quantity))],
        order.Total,
        order.CreatedAt,
        order.CancellationReason);
}

public sealed record OrderLineResponse(int ProductId, string ProductName, long UnitPrice, int Quantity, long LineTotal);

/// <summary>One page of a list, with what a client needs to ask for the next one (the same shape as Catalog's).</summary>
public sealed record PaginatedItems<T>(IReadOnlyList<T> Items, int Page, int PageSize, int TotalCount)
{
    public int TotalPages => (int)((TotalCount + (long)PageSize - 1) / PageSize);
}
