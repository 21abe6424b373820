using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Infrastructure;
using Portico.Catalog.Model;

namespace Portico.Catalog.Apis;

/// <summary>An amount of money: <see cref="Amount"/> in the currency's minor unit (KRW has none, so whole won) and its ISO 4217 code.</summary>
public sealed record Money(long Amount, string Currency);

/// <summary>A product as version 2 of the API shows it: the price with its currency.</summary>
public sealed record ProductV2(int Id, string Name, string NameKo, string Description, Money Price, int Stock, bool Featured)
{
    public static ProductV2 From(Product p) => new(p.Id, p.Name, p.NameKo, p.Description, new Money(p.Price, "KRW"), p.Stock, p.Featured);
}

/// <summary>One page of a list and the opaque cursor of the next page (null on the last).</summary>
public sealed record CursorPage<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// Version 2 of the product API (<c>/api/v2/products</c>), beside version 1 which the gateway marks deprecated: prices as
/// <see cref="Money"/>, and cursor paging — a page continues after the last id the client saw, so products added or removed
/// meanwhile neither repeat nor skip an item, and no count of the whole list is computed.
/// </summary>
public static class CatalogApiV2
{
    public static IEndpointRouteBuilder MapCatalogApiV2(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v2/products").WithTags("Catalog v2").AddEndpointFilter<ProductCaching>();

        api.MapGet("/", GetProductsAsync).WithName("GetProductsV2");
        api.MapGet("/{id:int}", GetProductByIdAsync).WithName("GetProductByIdV2");

        return app;
    }

    /// <summary>Products ordered by id, after <paramref name="cursor"/>, optionally filtered by a term found in either name and by the featured flag.</summary>
    public static async Task<Results<Ok<CursorPage<ProductV2>>, ValidationProblem>> GetProductsAsync(
        CatalogDbContext db,
        [FromQuery] string? search,
        [FromQuery] string? cursor,
        [FromQuery] string? limit,
        [FromQuery] string? featured,
        CancellationToken cancellationToken)
    {
        // Search and featured are read as version 1 reads them; page and pageSize have no meaning here.
        ProductQuery.TryParse(search, null, null, featured, out var query, out var errors);
        var after = 0;
        if (!string.IsNullOrEmpty(cursor) && !ProductCursor.TryRead(cursor, out after))
        {
            errors[nameof(cursor)] = ["cursor must be the nextCursor of an earlier page."];
        }
        var take = ProductQuery.DefaultPageSize;
        if (!string.IsNullOrWhiteSpace(limit)
            && (!int.TryParse(limit.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > ProductQuery.MaxPageSize))
        {
            errors[nameof(limit)] = [$"limit must be a whole number from 1 to {ProductQuery.MaxPageSize}."];
        }
        if (errors.Count != 0)
        {
            return TypedResults.ValidationProblem(errors, detail: $"Invalid query parameter(s): {string.Join(", ", errors.Keys)}.", title: "Invalid query parameters");
        }

        var products = db.Products.AsNoTracking().Where(p => p.Id > after);
        if (query.Search is { } term)
        {
            var lowered = term.ToLowerInvariant();
            products = products.Where(p => p.Name.ToLower().Contains(lowered) || p.NameKo.ToLower().Contains(lowered));
        }
        if (query.Featured is { } featuredOnly)
        {
            products = products.Where(p => p.Featured == featuredOnly);
        }
        // One more than a page tells whether another page follows.
        var items = await products.OrderBy(p => p.Id).Take(take + 1).ToListAsync(cancellationToken);
        var next = items.Count > take ? ProductCursor.Write(items[take - 1].Id) : null;
        return TypedResults.Ok(new CursorPage<ProductV2>(items.Take(take).Select(ProductV2.From).ToList(), next));
    }

    public static async Task<Results<Ok<ProductV2>, ProblemHttpResult>> GetProductByIdAsync(CatalogDbContext db, int id, CancellationToken cancellationToken)
    {
        var product = await db.Products.AsNoTracking().SingleOrDefaultAsync(p => p.Id == id, cancellationToken);
        return product is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Product not found", detail: $"No product has id {id}.")
            : TypedResults.Ok(ProductV2.From(product));
    }
}

/// <summary>The cursor is opaque to clients (base64url of <c>after:{id}</c>), so its form can change without a new version.</summary>
internal static class ProductCursor
{
    private const string Prefix = "after:";

    public static string Write(int lastId) => WebEncoders.Base64UrlEncode(Encoding.ASCII.GetBytes(Prefix + lastId.ToString(CultureInfo.InvariantCulture)));

    public static bool TryRead(string cursor, out int lastId)
    {
        lastId = 0;
        if (cursor.Length > 64)
        {
            return false;
        }
        string text;
        try
        {
            text = Encoding.ASCII.GetString(WebEncoders.Base64UrlDecode(cursor));
        }
        catch (FormatException)
        {
            return false;
        }
        return text.StartsWith(Prefix, StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out lastId)
            && lastId > 0;
    }
}
