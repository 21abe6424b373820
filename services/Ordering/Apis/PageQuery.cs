using System.Globalization;

namespace Portico.Ordering.Apis;

/// <summary>
/// <c>?page=&amp;pageSize=</c>, parsed by hand so that every bad value gets a problem+json 400 naming the parameter
/// (framework binding failures answer with an empty 400).
/// </summary>
internal sealed record PageQuery(int Page, int PageSize)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    public static bool TryParse(string? page, string? pageSize, out PageQuery query, out Dictionary<string, string[]> errors)
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

        query = new PageQuery(pageValue, pageSizeValue);
        return errors.Count == 0;
    }

    private static bool TryParseInt(string value, out int result) =>
        int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);
}
