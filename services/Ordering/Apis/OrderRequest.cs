using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace Portico.Ordering.Apis;

/// <summary>One line of <c>POST /api/orders</c>: a product and how many.</summary>
public readonly record struct RequestedLine(int ProductId, int Quantity);

/// <summary>
/// The body of <c>POST /api/orders</c>, <c>{"items":[{"productId":1,"quantity":2}]}</c>, read by hand so that every
/// fault — not JSON, wrong types, unknown fields, empty, too many lines, bad quantities, the same product twice,
/// too large — becomes a problem+json answer naming the field (<c>items[2].quantity</c>), never a 500.
/// </summary>
public sealed class OrderRequest
{
    public const int MaxLines = 50;
    public const int MaxQuantity = 100;

    /// <summary>Largest body accepted: fifty lines fit many times over.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>The key under which faults of the body as a whole are reported.</summary>
    public const string BodyField = "body";

    private const string ItemsField = "items";
    private const string ProductIdField = "productId";
    private const string QuantityField = "quantity";
    private const int MaxReportedNameLength = 64;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8, AllowDuplicateProperties = false };

    private OrderRequest(IReadOnlyList<RequestedLine> lines) => Lines = lines;

    /// <summary>The lines in the order the client sent them.</summary>
    public IReadOnlyList<RequestedLine> Lines { get; }

    /// <summary>
    /// SHA-256 (hex) of the lines sorted by product: two bodies that ask for the same products in the same
    /// quantities are the same request, whatever their spacing or the order of their lines.
    /// </summary>
    public string Hash()
    {
        var canonical = string.Join('\n', Lines.OrderBy(l => l.ProductId).Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.ProductId}x{l.Quantity}")));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>Reads and checks the body; on failure, <c>Problem</c> is the answer to send.</summary>
    public static async Task<(OrderRequest? Request, IResult? Problem)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported media type",
                detail: "The request body must be JSON, sent with Content-Type: application/json."));
        }
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, TooLarge());
        }
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = MaxBodyBytes;
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, DocumentOptions, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (JsonException e)
        {
            var position = e.LineNumber is { } line && e.BytePositionInLine is { } column ? $" (line {line + 1}, byte {column + 1})" : "";
            return (null, Invalid(new() { [BodyField] = [$"The body is not valid JSON{position}: one object, each field at most once."] }));
        }

        using (document)
        {
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var lines = ReadLines(document.RootElement, errors);
            return errors.Count > 0 ? (null, Invalid(errors)) : (new OrderRequest(lines), null);
        }
    }

    private static List<RequestedLine> ReadLines(JsonElement root, Dictionary<string, string[]> errors)
    {
        var lines = new List<RequestedLine>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            Add(errors, BodyField, $"The body must be a JSON object with an '{ItemsField}' array, not {Describe(root.ValueKind)}.");
            return lines;
        }
        ReportUnknownFields(root, "", [ItemsField], errors);
        if (!root.TryGetProperty(ItemsField, out var items) || items.ValueKind == JsonValueKind.Null)
        {
            Add(errors, ItemsField, $"{ItemsField} is required: a list of {{\"{ProductIdField}\", \"{QuantityField}\"}} lines.");
            return lines;
        }
        if (items.ValueKind != JsonValueKind.Array)
        {
            Add(errors, ItemsField, $"{ItemsField} must be an array, not {Describe(items.ValueKind)}.");
            return lines;
        }
        var count = items.GetArrayLength();
        if (count == 0)
        {
            Add(errors, ItemsField, $"{ItemsField} must hold at least one line.");
            return lines;
        }
        if (count > MaxLines)
        {
            Add(errors, ItemsField, $"{ItemsField} may hold at most {MaxLines} lines, not {count}.");
            return lines;
        }

        var firstLineOfProduct = new Dictionary<int, int>();
        var index = 0;
        foreach (var item in items.EnumerateArray())
        {
            var path = $"{ItemsField}[{index}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                Add(errors, path, $"{path} must be an object with {ProductIdField} and {QuantityField}, not {Describe(item.ValueKind)}.");
                index++;
                continue;
            }
            ReportUnknownFields(item, path + ".", [ProductIdField, QuantityField], errors);
            var productId = ReadInt(item, path, ProductIdField, 1, int.MaxValue, "a product id (a whole number of at least 1)", errors);
            var quantity = ReadInt(item, path, QuantityField, 1, MaxQuantity, $"a whole number from 1 to {MaxQuantity}", errors);
            if (productId is { } id && !firstLineOfProduct.TryAdd(id, index))
            {
                Add(errors, $"{path}.{ProductIdField}",
                    $"Product {id} is already on {ItemsField}[{firstLineOfProduct[id]}]; put its whole quantity on one line.");
            }
            else if (productId is { } product && quantity is { } amount)
            {
                lines.Add(new RequestedLine(product, amount));
            }
            index++;
        }
        return lines;
    }

    private static int? ReadInt(JsonElement item, string path, string name, int min, int max, string expected, Dictionary<string, string[]> errors)
    {
        var field = $"{path}.{name}";
        if (!item.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            Add(errors, field, $"{field} is required: {expected}.");
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number)
        {
            Add(errors, field, $"{field} must be {expected}, not {Describe(value.ValueKind)}.");
            return null;
        }
        if (!value.TryGetInt64(out var number) || number < min || number > max)
        {
            Add(errors, field, $"{field} must be {expected}, not {Truncate(value.GetRawText())}.");
            return null;
        }
        return (int)number;
    }

    private static void ReportUnknownFields(JsonElement element, string prefix, string[] known, Dictionary<string, string[]> errors)
    {
        foreach (var property in element.EnumerateObject().Where(p => !known.Contains(p.Name, StringComparer.Ordinal)).Take(8))
        {
            var field = prefix + Truncate(property.Name);
            Add(errors, field, $"{field} is not a known field; expected {string.Join(", ", known)}.");
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static void Add(Dictionary<string, string[]> errors, string field, string message) =>
        errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];

    private static string Truncate(string text) => text.Length <= MaxReportedNameLength ? text : text[..MaxReportedNameLength] + "…";

    private static IResult Invalid(Dictionary<string, string[]> errors) => TypedResults.ValidationProblem(
        errors,
        detail: $"Invalid field(s): {string.Join(", ", errors.Keys)}.",
        title: "Invalid order");

    private static IResult TooLarge() => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Request body too large",
        detail: $"The request body must be at most {MaxBodyBytes} bytes.");
}
