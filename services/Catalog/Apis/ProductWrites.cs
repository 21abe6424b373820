using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;
using Portico.Catalog.Infrastructure;
using Portico.Contracts.Events;
using Portico.Data;
using Portico.Messaging;
using Portico.Messaging.Outbox;
using Portico.ServiceDefaults.RequestBodies;

namespace Portico.Catalog.Apis;

/// <summary>
/// The admin's writes: <c>POST /api/products</c> creates a product, <c>PUT /api/products/{id}</c> replaces one. Each
/// saves the product and a <c>ProductChanged</c> outbox row in one transaction, so the gateway's cached product
/// answers are purged whenever a product changes, and never for a change that was not saved.
/// </summary>
public static partial class ProductWrites
{
    private const int MaxUpdateAttempts = 3;

    /// <summary>Maps the writes under <c>/api/products</c>, for the <see cref="CatalogPolicies.Admin"/> policy. Answers are not cacheable.</summary>
    public static IEndpointRouteBuilder MapProductWrites(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/products").WithTags("Catalog").RequireAuthorization(CatalogPolicies.Admin);

        api.MapPost("/", CreateProductAsync).WithName("CreateProduct");
        api.MapPut("/{id:int}", UpdateProductAsync).WithName("UpdateProduct");

        return app;
    }

    [RequestSizeLimit(ProductRequest.MaxBodyBytes)]
    internal static async Task<IResult> CreateProductAsync(
        [FromBody] ProductRequest? body, HttpContext context, CatalogDbContext db, ProductCaching caching, TimeProvider timeProvider, OutboxSignal outboxSignal, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return JsonRequestBodies.Missing(ProductRequest.Expected);
        }

        var product = body.ToProduct();
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            db.Products.Add(product);
            if (await TrySaveAsync(db, cancellationToken) is { } conflict)
            {
                return conflict;
            }
            // The id exists once the row does: the event is added and saved in the same transaction.
            db.Outbox.Add(ProductChangedMessage(product.Id, timeProvider));
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        outboxSignal.Notify();
        Log.Created(loggers.CreateLogger(typeof(ProductWrites)), product.Id, product.Name);
        context.Response.Headers.ETag = caching.ETagOf(product).ToString();
        return TypedResults.Created($"/api/products/{product.Id}", product);
    }

    /// <summary>
    /// Replaces product <paramref name="id"/>. With <c>If-Match</c> (the product's ETag from a GET), the write happens only
    /// if the product is still as the caller saw it, else 412 (RFC 9110 §13.1.1): stock moves with every order, so an admin
    /// setting stock from a count can make sure none slipped in between. Without it the last write wins. The body has been
    /// bound and validated before this runs (<see cref="ProductRequest"/>); only an empty one arrives as null.
    /// </summary>
    [RequestSizeLimit(ProductRequest.MaxBodyBytes)]
    internal static async Task<IResult> UpdateProductAsync(
        int id, [FromBody] ProductRequest? body, HttpContext context, CatalogDbContext db, ProductCaching caching, TimeProvider timeProvider, OutboxSignal outboxSignal,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var ifMatch = context.Request.Headers.IfMatch;
        IList<EntityTagHeaderValue>? expected = null;
        if (ifMatch.Count > 0 && !EntityTagHeaderValue.TryParseStrictList(ifMatch, out expected))
        {
            return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                ["If-Match"] = ["If-Match must be * or a list of quoted entity tags, as the ETag of GET /api/products/{id}."],
            })
            { Status = StatusCodes.Status400BadRequest, Title = "Invalid If-Match", Detail = "Invalid header: If-Match." });
        }
        if (body is null)
        {
            return JsonRequestBodies.Missing(ProductRequest.Expected);
        }

        for (var attempt = 1; ; attempt++)
        {
            var product = await db.Products.SingleOrDefaultAsync(p => p.Id == id, cancellationToken);
            if (product is null)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Product not found", detail: $"No product has id {id}.");
            }
            if (expected is not null && !expected.Any(t => t.Equals(EntityTagHeaderValue.Any) || t.Compare(caching.ETagOf(product), useStrongComparison: true)))
            {
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status412PreconditionFailed,
                    title: "Product changed",
                    detail: $"Product {id} is no longer as If-Match describes it (its stock moves with orders); read it again and resend.");
            }
            body.ApplyTo(product);
            if (!db.ChangeTracker.HasChanges())
            {
                return TypedResults.Ok(product); // the same values again: nothing changed, nothing to purge
            }
            db.Outbox.Add(ProductChangedMessage(product.Id, timeProvider));
            try
            {
                // One SaveChanges is one transaction: the product and its event together or not at all. Every field is a
                // concurrency token, so the update applies only to the row as read: what the If-Match check saw.
                if (await TrySaveAsync(db, cancellationToken) is { } conflict)
                {
                    return conflict;
                }
            }
            catch (DbUpdateConcurrencyException) when (attempt < MaxUpdateAttempts)
            {
                db.ChangeTracker.Clear(); // an order moved its stock meanwhile: read it again
                continue;
            }
            catch (DbUpdateConcurrencyException)
            {
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status409Conflict,
                    title: "Product busy",
                    detail: $"Product {id} kept changing while it was saved (orders move its stock); nothing was changed. Try again.");
            }
            outboxSignal.Notify();
            Log.Updated(loggers.CreateLogger(typeof(ProductWrites)), product.Id, product.Name);
            context.Response.Headers.ETag = caching.ETagOf(product).ToString();
            return TypedResults.Ok(product);
        }
    }

    /// <summary>Saves, answering 409 naming <c>name</c> when another product has the name (the unique index says so).</summary>
    private static async Task<ProblemHttpResult?> TrySaveAsync(CatalogDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }
        catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
        {
            db.ChangeTracker.Clear();
            return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                ["name"] = ["Another product already has this name."],
            })
            {
                Status = StatusCodes.Status409Conflict,
                Title = "Product name taken",
                Detail = "Another product already has this name (name).",
            });
        }
    }

    private static OutboxMessage ProductChangedMessage(int productId, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow();
        return OutboxMessage.Create(
            new ProductChanged(productId, now),
            EventsJsonContext.Default.ProductChanged,
            now,
            new MessageProperties { CorrelationId = productId.ToString(System.Globalization.CultureInfo.InvariantCulture), PartitionKey = "product-" + productId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Created product {ProductId} ({Name})")]
        public static partial void Created(ILogger logger, int productId, string name);

        [LoggerMessage(EventId = 31, Level = LogLevel.Information, Message = "Updated product {ProductId} ({Name})")]
        public static partial void Updated(ILogger logger, int productId, string name);
    }
}
