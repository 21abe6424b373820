using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portico.Messaging.Outbox;
using Portico.Ordering.Infrastructure;
using Portico.Ordering.Model;
using Portico.Ordering.Orders;
using Portico.ServiceDefaults.RequestBodies;

namespace Portico.Ordering.Apis;

public static class OrdersApi
{
    /// <summary>
    /// Maps <c>POST /api/orders</c>, <c>GET /api/orders</c>, <c>GET /api/orders/{id}</c> and
    /// <c>POST /api/orders/{id}/cancel</c>, all for a signed-in user (the token's <c>sub</c>) and their own orders.
    /// </summary>
    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/orders").WithTags("Ordering").RequireAuthorization(OrderingPolicies.Customer);

        api.MapPost("/", PlaceOrderAsync).WithName("PlaceOrder");
        api.MapGet("/", GetOrdersAsync).WithName("GetOrders");
        api.MapGet("/{id:guid}", GetOrderAsync).WithName("GetOrder");
        api.MapPost("/{id:guid}/cancel", CancelOrderAsync).WithName("CancelOrder");

        return app;
    }

    /// <summary>
    /// Places an order priced by Catalog: 201 with its Location. With an <c>Idempotency-Key</c>, a retry of the same
    /// lines creates nothing and gets the order as it is now (its current status, e.g. Cancelled) with the first
    /// answer's status code and <c>Idempotent-Replayed: true</c>; the same key with other lines is 422. The body has
    /// been bound and validated before this runs (<see cref="OrderRequest"/>); only an empty one arrives as null.
    /// </summary>
    [RequestSizeLimit(OrderRequest.MaxBodyBytes)]
    internal static async Task<IResult> PlaceOrderAsync(
        [FromBody] OrderRequest? body,
        HttpContext context,
        OrderPlacement placement,
        IOptions<OrderingOptions> options,
        CancellationToken cancellationToken)
    {
        var (key, keyProblem) = IdempotencyKey.Read(context.Request);
        if (keyProblem is not null)
        {
            return keyProblem;
        }
        if (body is null)
        {
            return JsonRequestBodies.Missing(OrderRequest.Expected);
        }

        var result = await placement.PlaceAsync(UserId(context.User), key, body.ToLines(), cancellationToken);
        switch (result)
        {
            case PlacementResult.Placed placed:
                return new StoredJsonResult(StatusCodes.Status201Created, placed.Body, Location(placed.OrderId));
            case PlacementResult.Replayed replayed:
                context.Response.Headers[IdempotencyKey.ReplayedHeaderName] = "true";
                return new StoredJsonResult(replayed.StatusCode, replayed.Body, Location(replayed.OrderId));
            case PlacementResult.KeyReused:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status422UnprocessableEntity,
                    title: "Idempotency-Key reused",
                    detail: $"This {IdempotencyKey.HeaderName} was already used for an order with other items; use a new key for a new order.");
            case PlacementResult.UnknownProducts unknown:
                return TypedResults.Problem(new HttpValidationProblemDetails(unknown.Errors)
                {
                    Status = StatusCodes.Status422UnprocessableEntity,
                    Title = "Unknown product",
                    Detail = $"The catalog has no such product: {string.Join(", ", unknown.Errors.Keys)}.",
                });
            case PlacementResult.Unpriceable unpriceable:
                return TypedResults.Problem(new HttpValidationProblemDetails(unpriceable.Errors)
                {
                    Status = unpriceable.StatusCode,
                    Title = unpriceable.Title,
                    Detail = $"The order cannot be priced: {string.Join(", ", unpriceable.Errors.Keys)}; nothing was stored.",
                });
            case PlacementResult.CatalogUnavailable:
                context.Response.Headers.RetryAfter = ((int)options.Value.CatalogRetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: "Catalog unavailable",
                    detail: "The order could not be priced because the catalog did not answer; nothing was stored. Try again later.");
            default:
                throw new InvalidOperationException($"Unexpected placement result {result}.");
        }
    }

    /// <summary>A page of the caller's orders, newest first.</summary>
    internal static async Task<Results<Ok<PaginatedItems<OrderResponse>>, ValidationProblem>> GetOrdersAsync(
        ClaimsPrincipal user,
        OrderingDbContext db,
        [FromQuery] string? page,
        [FromQuery] string? pageSize,
        CancellationToken cancellationToken)
    {
        if (!PageQuery.TryParse(page, pageSize, out var query, out var errors))
        {
            return TypedResults.ValidationProblem(errors, detail: $"Invalid query parameter(s): {string.Join(", ", errors.Keys)}.", title: "Invalid query parameters");
        }

        var userId = UserId(user);
        var orders = db.Orders.AsNoTracking().Where(o => o.UserId == userId);
        var totalCount = await orders.CountAsync(cancellationToken);
        var offset = (long)(query.Page - 1) * query.PageSize;
        List<Order> items = offset >= totalCount
            ? []
            : await orders.OrderByDescending(o => o.CreatedAt).ThenByDescending(o => o.Id)
                .Skip((int)offset).Take(query.PageSize).Include(o => o.Lines).ToListAsync(cancellationToken);

        return TypedResults.Ok(new PaginatedItems<OrderResponse>([.. items.Select(OrderResponse.From)], query.Page, query.PageSize, totalCount));
    }

    /// <summary>One of the caller's orders; another user's order is 404, as if it did not exist.</summary>
    internal static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> GetOrderAsync(
        Guid id, ClaimsPrincipal user, OrderingDbContext db, CancellationToken cancellationToken)
    {
        var order = await FindAsync(db, id, UserId(user), cancellationToken);
        return order is null ? NotFound(id) : TypedResults.Ok(OrderResponse.From(order));
    }

    /// <summary>
    /// Cancels a placed order (200 with the order) and records <c>OrderCancelled</c> in the outbox, in one
    /// transaction. An order that is not <c>Placed</c> any more — already cancelled included — is 409.
    /// </summary>
    internal static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> CancelOrderAsync(
        Guid id, ClaimsPrincipal user, OrderingDbContext db, TimeProvider timeProvider, OutboxSignal outboxSignal, CancellationToken cancellationToken)
    {
        var userId = UserId(user);
        var now = timeProvider.GetUtcNow();
        now = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

        bool cancelled;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            // One conditional update: of two concurrent cancels exactly one finds the order still Placed. It also counts
            // the order's event, whose number is read back in this transaction as the event's aggregate sequence.
            cancelled = 1 == await db.Orders
                .Where(o => o.Id == id && o.UserId == userId && o.Status == OrderStatus.Placed)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(o => o.Status, OrderStatus.Cancelled)
                    .SetProperty(o => o.CancelledAt, now)
                    .SetProperty(o => o.CancellationReason, CancellationReasons.User)
                    .SetProperty(o => o.ChangedAt, now)
                    .SetProperty(o => o.EventSequence, o => o.EventSequence + 1), cancellationToken);
            if (cancelled)
            {
                var changed = await db.Orders.Where(o => o.Id == id).Select(o => new { o.Total, o.EventSequence }).SingleAsync(cancellationToken);
                db.Outbox.Add(OrderEvents.Cancelled(id, userId, changed.Total, now, changed.EventSequence));
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                outboxSignal.Notify();
            }
        }

        var order = await FindAsync(db, id, userId, cancellationToken);
        if (order is null)
        {
            return NotFound(id);
        }
        return cancelled
            ? TypedResults.Ok(OrderResponse.From(order))
            : TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Order cannot be cancelled",
                detail: $"Order {id} is {order.Status}; only a Placed order can be cancelled.");
    }

    private static Task<Order?> FindAsync(OrderingDbContext db, Guid id, string userId, CancellationToken cancellationToken) =>
        db.Orders.AsNoTracking().Include(o => o.Lines).SingleOrDefaultAsync(o => o.Id == id && o.UserId == userId, cancellationToken);

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Order not found", detail: $"You have no order with id {id}.");

    private static string Location(Guid id) => $"/api/orders/{id}";

    /// <summary>The caller's id: the validated token's <c>sub</c> (the policy requires it). <c>X-User-Id</c> is never read.</summary>
    private static string UserId(ClaimsPrincipal user) => user.FindFirstValue("sub") ?? throw new InvalidOperationException("The policy lets no token without 'sub' through.");
}
