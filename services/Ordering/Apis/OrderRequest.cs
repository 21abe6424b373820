using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Portico.ServiceDefaults.RequestBodies;

namespace Portico.Ordering.Apis;

/// <summary>One line of an order as placement uses it: a product and how many.</summary>
public readonly record struct RequestedLine(int ProductId, int Quantity);

/// <summary>
/// The body of <c>POST /api/orders</c>, <c>{"items":[{"productId":1,"quantity":2}]}</c>. Bound by minimal APIs (strictly:
/// see <see cref="JsonRequestBodies"/>) and checked by .NET's validation, so that every fault becomes a problem+json
/// 400 naming the field (<c>items[2].quantity</c>).
/// </summary>
public sealed record OrderRequest(
    [property: Required(ErrorMessage = "items is required: a list of lines, each with productId and quantity.")]
    [property: MinLength(1, ErrorMessage = "items must hold at least one line.")]
    [property: MaxLength(OrderRequest.MaxLines, ErrorMessage = "items may hold at most {1} lines.")]
    IReadOnlyList<OrderLineRequest>? Items) : IValidatableObject
{
    public const int MaxLines = 50;
    public const int MaxQuantity = 100;

    /// <summary>Largest body accepted: fifty lines fit many times over.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>What an order body is, for the answer to an empty one.</summary>
    public const string Expected = "a JSON object with an 'items' array";

    /// <summary>The lines in the order the client sent them; call only once validation has passed.</summary>
    public IReadOnlyList<RequestedLine> ToLines() =>
        [.. Items!.Select(l => new RequestedLine((int)l.ProductId!.Value, (int)l.Quantity!.Value))];

    /// <summary>A product on two lines (validation asks this once every line is valid on its own).</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var firstLineOfProduct = new Dictionary<long, int>();
        for (var index = 0; index < Items?.Count; index++)
        {
            if (Items[index].ProductId is { } id && !firstLineOfProduct.TryAdd(id, index))
            {
                yield return new ValidationResult(
                    $"Product {id} is already on items[{firstLineOfProduct[id]}]; put its whole quantity on one line.",
                    [$"items[{index}].productId"]);
            }
        }
    }
}

/// <summary>One line of <see cref="OrderRequest"/>.</summary>
public sealed record OrderLineRequest(
    [property: JsonConverter(typeof(WholeNumberConverter)), WholeNumber(1, int.MaxValue)] long? ProductId,
    [property: JsonConverter(typeof(WholeNumberConverter)), WholeNumber(1, OrderRequest.MaxQuantity)] long? Quantity);
