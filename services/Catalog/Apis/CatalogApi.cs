using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Infrastructure;
using Portico.Catalog.Model;

namespace Portico.Catalog.Apis;

public static class CatalogApi
{
    /// <summary>Maps <c>GET /api/products</c> and <c>GET /api/products/{id}</c>, cacheable by shared caches with an ETag (<see cref="ProductCaching"/>).</summary>
    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/products").WithTags("Catalog").AddEndpointFilter<ProductCaching>();

        api.MapGet("/", GetProductsAsync).WithName("GetProducts");
        api.MapGet("/{id:int}", GetProductByIdAsync).WithName("GetProductById");

        return app;
    }

    /// <summary>
    /// A page of products ordered by id, optionally filtered by a term found in either name
    /// (case-insensitive) and by the featured flag.
    /// </summary>
    public static async Task<Results<Ok<PaginatedItems<Product>>, ValidationProblem>> GetProductsAsync(
        CatalogDbContext db,
        [FromQuery] string? search,
        [FromQuery] string? page,
        [FromQuery] string? pageSize,
        [FromQuery] string? featured,
        CancellationToken cancellationToken)
    {
        if (!ProductQuery.TryParse(search, page, pageSize, featured, out var query, out var errors))
        {
            return TypedResults.ValidationProblem(
                errors,
                detail: $"Invalid query parameter(s): {string.Join(", ", errors.Keys)}.",
                title: "Invalid query parameters");
        }

        var products = db.Products.AsNoTracking();
        if (query.Search is { } term)
        {
            // ToLower on both sides translates to lower() in SQL on any provider; Hangul has no case.
            var lowered = term.ToLowerInvariant();
            products = products.Where(p => p.Name.ToLower().Contains(lowered) || p.NameKo.ToLower().Contains(lowered));
        }
        if (query.Featured is { } featuredOnly)
        {
            products = products.Where(p => p.Featured == featuredOnly);
        }

        var totalCount = await products.CountAsync(cancellationToken);
        var offset = (long)(query.Page - 1) * query.PageSize;
        List<Product> items = offset >= totalCount
            ? []
            : await products.OrderBy(p => p.Id).Skip((int)offset).Take(query.PageSize).ToListAsync(cancellationToken);

        return TypedResults.Ok(new PaginatedItems<Product>(items, query.Page, query.PageSize, totalCount));
    }

    public static async Task<Results<Ok<Product>, ProblemHttpResult>> GetProductByIdAsync(
        CatalogDbContext db, int id, CancellationToken cancellationToken)
    {
        var product = await db.Products.AsNoTracking().SingleOrDefaultAsync(p => p.Id == id, cancellationToken);
        return product is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Product not found", detail: $"No product has id {id}.")
            : TypedResults.Ok(product);
    }
}
