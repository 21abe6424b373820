using System.ComponentModel.DataAnnotations;
using System.Text;
using System.Text.Json.Serialization;
using Portico.Catalog.Model;
using Portico.ServiceDefaults.RequestBodies;

namespace Portico.Catalog.Apis;

/// <summary>
/// The body of <c>POST /api/products</c> and <c>PUT /api/products/{id}</c>: the whole product,
/// <c>{"name", "nameKo", "description", "price", "stock", "featured"}</c>. Bound by minimal APIs (strictly: see
/// <see cref="JsonRequestBodies"/>) and checked by .NET's validation, so that every fault becomes a problem+json 400
/// naming the field. Public because the validation source generator passes over internal types without a word.
/// </summary>
public sealed record ProductRequest
{
    public const long MaxBodyBytes = 16 * 1024;

    /// <summary>What a product body is, for the answer to an empty one.</summary>
    public const string Expected = "a JSON object with name, nameKo, description, price, stock and featured";

    // Nothing may hold control characters (they corrupt logs and pages); a description may break lines.
    private const string OneLine = @"\P{Cc}*";
    private const string Lines = @"(?:[\t\n\r]|\P{Cc})*";

    [Required(ErrorMessage = "name is required: text that is not blank.")]
    [StringLength(ProductLimits.MaxNameLength, ErrorMessage = "name may be at most {1} characters.")]
    [RegularExpression(OneLine, ErrorMessage = "name must not contain control characters.")]
    public string? Name { get; init => field = Clean(value); }

    [Required(ErrorMessage = "nameKo is required: text that is not blank.")]
    [StringLength(ProductLimits.MaxNameLength, ErrorMessage = "nameKo may be at most {1} characters.")]
    [RegularExpression(OneLine, ErrorMessage = "nameKo must not contain control characters.")]
    public string? NameKo { get; init => field = Clean(value); }

    [StringLength(ProductLimits.MaxDescriptionLength, ErrorMessage = "description may be at most {1} characters.")]
    [RegularExpression(Lines, ErrorMessage = "description must not contain control characters other than line breaks and tabs.")]
    public string? Description { get; init => field = Clean(value); }

    /// <summary>In whole KRW.</summary>
    [JsonConverter(typeof(WholeNumberConverter)), WholeNumber(0, ProductLimits.MaxPrice)]
    public long? Price { get; init; }

    [JsonConverter(typeof(WholeNumberConverter)), WholeNumber(0, ProductLimits.MaxStock)]
    public long? Stock { get; init; }

    public bool? Featured { get; init; }

    /// <summary>A new product as the request describes it; call only once validation has passed.</summary>
    public Product ToProduct()
    {
        var product = new Product { Name = "", NameKo = "", Description = "" };
        ApplyTo(product);
        return product;
    }

    /// <summary>Copies the request onto <paramref name="product"/>; call only once validation has passed.</summary>
    public void ApplyTo(Product product)
    {
        product.Name = Name!;
        product.NameKo = NameKo!;
        product.Description = Description ?? "";
        product.Price = Price!.Value;
        product.Stock = (int)Stock!.Value;
        product.Featured = Featured ?? false;
    }

    /// <summary>
    /// Trimmed, and composed (NFC): Hangul typed on some systems arrives decomposed (NFD), while the catalog stores
    /// composed text, as search expects. Validation then sees the text as it will be stored.
    /// </summary>
    private static string? Clean(string? value) => value?.Trim().Normalize(NormalizationForm.FormC);
}
