using System.Globalization;
using System.Text;

namespace Portico.Catalog.Apis;

/// <summary>
/// The query string of <c>GET /api/products</c>, parsed by hand so that every bad value gets a
/// problem+json 400 naming the parameter (framework binding failures answer with an empty 400).
/// </summary>
internal sealed record ProductQuery(string? Search, int Page, int PageSize, bool? Featured)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    public static bool TryParse(
        string? search, string? page, string? pageSize, string? featured,
        out ProductQuery query, out Dictionary<string, string[]> errors)
    {
        errors = new(StringComparer.Ordinal);

        var pageValue = 1;
        if (!string.IsNullOrWhiteSpace(page) && (!TryParseInt(page, out pageValue) || pageValue < 1))
        {
            errors[nameof(page)] = ["page must be a whole number of at least 1."];
        }

        var pageSizeValue = DefaultPageSize;
        if (!string.IsNullOrWhiteSpace(pageSize) && (!TryParseInt(pageSize, out pageSizeValue) || pageSizeValue is < 1 or > MaxPageSize))
        {
            errors[nameof(pageSize)] = [$"pageSize must be a whole number from 1 to {MaxPageSize}."];
        }

        bool? featuredValue = null;
        if (!string.IsNullOrWhiteSpace(featured))
        {
            if (bool.TryParse(featured.Trim(), out var parsed))
            {
                featuredValue = parsed;
            }
            else
            {
                errors[nameof(featured)] = ["featured must be true or false."];
            }
        }

        // Hangul typed on some systems arrives decomposed (NFD); the catalog stores composed text.
        var term = string.IsNullOrWhiteSpace(search) ? null : search.Trim().Normalize(NormalizationForm.FormC);

        query = new ProductQuery(term, pageValue, pageSizeValue, featuredValue);
        return errors.Count == 0;
    }

    private static bool TryParseInt(string value, out int result) =>
        int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);
}
