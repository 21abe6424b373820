using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Portico.Catalog.Model;

namespace Portico.Catalog.Apis;

/// <summary>
/// The body of <c>POST /api/products</c> and <c>PUT /api/products/{id}</c>: the whole product,
/// <c>{"name", "nameKo", "description", "price", "stock", "featured"}</c>. Read by hand so that every fault — not JSON,
/// a wrong type, a missing or unknown field, a value out of range — becomes a problem+json 400 naming the field,
/// never a 500 (framework binding answers such bodies with an empty 400).
/// </summary>
internal sealed record ProductRequest(string Name, string NameKo, string Description, long Price, int Stock, bool Featured)
{
    public const long MaxBodyBytes = 16 * 1024;
    public const string BodyField = "body";

    private const string NameField = "name";
    private const string NameKoField = "nameKo";
    private const string DescriptionField = "description";
    private const string PriceField = "price";
    private const string StockField = "stock";
    private const string FeaturedField = "featured";
    private const int MaxReportedNameLength = 64;

    private static readonly string[] KnownFields = [NameField, NameKoField, DescriptionField, PriceField, StockField, FeaturedField];
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 4, AllowDuplicateProperties = false };

    /// <summary>Copies the request onto <paramref name="product"/>.</summary>
    public void ApplyTo(Product product)
    {
        product.Name = Name;
        product.NameKo = NameKo;
        product.Description = Description;
        product.Price = Price;
        product.Stock = Stock;
        product.Featured = Featured;
    }

    /// <summary>Reads and checks the body; on failure, <c>Problem</c> is the answer to send.</summary>
    public static async Task<(ProductRequest? Request, IResult? Problem)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
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
            var product = Read(document.RootElement, errors);
            return errors.Count > 0 ? (null, Invalid(errors)) : (product, null);
        }
    }

    private static ProductRequest? Read(JsonElement root, Dictionary<string, string[]> errors)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            Add(errors, BodyField, $"The body must be a JSON object with {string.Join(", ", KnownFields)}, not {Describe(root.ValueKind)}.");
            return null;
        }
        foreach (var property in root.EnumerateObject().Where(p => !KnownFields.Contains(p.Name, StringComparer.Ordinal)).Take(8))
        {
            var field = Truncate(property.Name);
            Add(errors, field, $"{field} is not a known field; expected {string.Join(", ", KnownFields)}.");
        }

        var name = ReadText(root, NameField, required: true, ProductLimits.MaxNameLength, errors);
        var nameKo = ReadText(root, NameKoField, required: true, ProductLimits.MaxNameLength, errors);
        var description = ReadText(root, DescriptionField, required: false, ProductLimits.MaxDescriptionLength, errors) ?? "";
        var price = ReadWhole(root, PriceField, ProductLimits.MaxPrice, "a price in whole KRW", errors);
        var stock = ReadWhole(root, StockField, ProductLimits.MaxStock, "a stock count", errors);
        var featured = false;
        if (root.TryGetProperty(FeaturedField, out var flag) && flag.ValueKind != JsonValueKind.Null)
        {
            if (flag.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                featured = flag.GetBoolean();
            }
            else
            {
                Add(errors, FeaturedField, $"{FeaturedField} must be true or false, not {Describe(flag.ValueKind)}.");
            }
        }
        return errors.Count > 0 ? null : new ProductRequest(name!, nameKo!, description, price!.Value, (int)stock!.Value, featured);
    }

    private static string? ReadText(JsonElement root, string field, bool required, int maxLength, Dictionary<string, string[]> errors)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Add(errors, field, $"{field} is required: text of 1 to {maxLength} characters.");
            }
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            Add(errors, field, $"{field} must be text, not {Describe(value.ValueKind)}.");
            return null;
        }
        // Hangul typed on some systems arrives decomposed (NFD); the catalog stores composed text, as search expects.
        var text = value.GetString()!.Trim().Normalize(NormalizationForm.FormC);
        if (required && text.Length == 0)
        {
            Add(errors, field, $"{field} must not be empty.");
            return null;
        }
        if (text.Length > maxLength)
        {
            Add(errors, field, $"{field} may be at most {maxLength} characters, not {text.Length}.");
            return null;
        }
        // A description may break lines; nothing may hold other control characters (they corrupt logs and pages).
        if (text.Any(c => char.IsControl(c) && !(field == DescriptionField && c is '\n' or '\r' or '\t')))
        {
            Add(errors, field, $"{field} must not contain control characters.");
            return null;
        }
        return text;
    }

    private static long? ReadWhole(JsonElement root, string field, long max, string what, Dictionary<string, string[]> errors)
    {
        var expected = $"{what}, a whole number from 0 to {max}";
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            Add(errors, field, $"{field} is required: {expected}.");
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number)
        {
            Add(errors, field, $"{field} must be {expected}, not {Describe(value.ValueKind)}.");
            return null;
        }
        if (!value.TryGetInt64(out var number) || number < 0 || number > max)
        {
            Add(errors, field, $"{field} must be {expected}, not {Truncate(value.GetRawText())}.");
            return null;
        }
        return number;
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
        title: "Invalid product");

    private static IResult TooLarge() => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Request body too large",
        detail: $"The request body must be at most {MaxBodyBytes} bytes.");
}
