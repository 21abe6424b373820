using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Portico.Data;
using Portico.Ordering.Apis;
using Portico.Ordering.Catalog;
using Portico.Ordering.Infrastructure;
using Microsoft.Extensions.Options;
using Portico.Messaging.Outbox;
using Portico.Ordering.Model;

namespace Portico.Ordering.Orders;

/// <summary>What became of a request to place an order.</summary>
public abstract record PlacementResult
{
    private PlacementResult()
    {
    }

    /// <summary>A new order; <paramref name="Body"/> is the JSON to answer with 201.</summary>
    public sealed record Placed(Guid OrderId, string Body) : PlacementResult;

    /// <summary>The key was used before for the same lines: the first answer's status with the order as it is now (its current status).</summary>
    public sealed record Replayed(Guid OrderId, int StatusCode, string Body) : PlacementResult;

    /// <summary>The key was used before for other lines.</summary>
    public sealed record KeyReused : PlacementResult;

    /// <summary>Catalog does not know some products; errors are keyed by <c>items[i].productId</c>.</summary>
    public sealed record UnknownProducts(Dictionary<string, string[]> Errors) : PlacementResult;

    public sealed record CatalogUnavailable(string Reason) : PlacementResult;

    /// <summary>
    /// The order cannot be priced into something Loyalty and the ledger accept: a line whose quantity × price or a
    /// total that overflows or passes <see cref="OrderingOptions.MaxOrderTotal"/> (400), or a product without a price
    /// (422). Errors are keyed by the field to blame (<c>items[i].quantity</c>, <c>items[i].productId</c>).
    /// </summary>
    public sealed record Unpriceable(int StatusCode, string Title, Dictionary<string, string[]> Errors) : PlacementResult;
}

/// <summary>
/// Places orders: prices each line from Catalog, then stores the order, its lines, its <c>OrderPlaced</c> outbox
/// row and (when the client sent one) its idempotency record in one transaction. A retry with the same key finds
/// the record and gets the order as it is now (cancelled, if it was cancelled since), with the first answer's status; two concurrent requests with one key cannot both be stored, because
/// the record's key is (user, key): the loser's transaction rolls back and it answers as a retry.
/// </summary>
public sealed partial class OrderPlacement(
    OrderingDbContext db, CatalogClient catalog, TimeProvider timeProvider, OutboxSignal outboxSignal, IOptions<OrderingOptions> options, ILogger<OrderPlacement> logger)
{
    public async Task<PlacementResult> PlaceAsync(string userId, string? idempotencyKey, IReadOnlyList<RequestedLine> lines, CancellationToken cancellationToken)
    {
        var requestHash = HashOf(lines);
        if (idempotencyKey is not null && await FindRecordAsync(userId, idempotencyKey, requestHash, cancellationToken) is { } earlier)
        {
            return earlier;
        }

        IReadOnlyDictionary<int, CatalogProduct?> products;
        try
        {
            products = await catalog.GetProductsAsync(lines.Select(l => l.ProductId), cancellationToken);
        }
        catch (CatalogUnavailableException e)
        {
            Log.CatalogUnavailable(logger, e);
            return new PlacementResult.CatalogUnavailable(e.Message);
        }

        var unknown = lines.Select((line, index) => (line, index)).Where(x => products[x.line.ProductId] is null)
            .ToDictionary(x => $"items[{x.index}].productId", x => new[] { $"No product has id {x.line.ProductId}." }, StringComparer.Ordinal);
        if (unknown.Count > 0)
        {
            return new PlacementResult.UnknownProducts(unknown);
        }

        if (CheckPrices(lines, products, options.Value.MaxOrderTotal) is { } unpriceable)
        {
            return unpriceable;
        }

        var order = CreateOrder(userId, lines, products);
        var body = JsonSerializer.Serialize(OrderResponse.From(order), OrderResponse.SerializerOptions);
        db.Orders.Add(order);
        db.Outbox.Add(OrderEvents.Placed(order));
        if (idempotencyKey is not null)
        {
            db.IdempotencyRecords.Add(new IdempotencyRecord
            {
                UserId = userId,
                Key = idempotencyKey,
                RequestHash = requestHash,
                OrderId = order.Id,
                StatusCode = StatusCodes.Status201Created,
                ResponseBody = body,
                CreatedAt = order.CreatedAt,
            });
        }

        try
        {
            // One SaveChanges is one transaction: order, lines, outbox row and idempotency record together or not at all.
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (idempotencyKey is not null && ServiceDatabase.IsUniqueViolation(e))
        {
            // A concurrent request with the same key was stored first: answer as its retry.
            db.ChangeTracker.Clear();
            return await FindRecordAsync(userId, idempotencyKey, requestHash, cancellationToken)
                ?? throw new InvalidOperationException("Unique violation without an idempotency record.", e);
        }

        outboxSignal.Notify();
        Log.OrderPlaced(logger, order.Id, userId, order.Lines.Count, order.Total);
        return new PlacementResult.Placed(order.Id, body);
    }

    private async Task<PlacementResult?> FindRecordAsync(string userId, string key, string requestHash, CancellationToken cancellationToken)
    {
        var record = await db.IdempotencyRecords.AsNoTracking().SingleOrDefaultAsync(r => r.UserId == userId && r.Key == key, cancellationToken);
        if (record is null)
        {
            return null;
        }
        if (record.RequestHash != requestHash)
        {
            return new PlacementResult.KeyReused();
        }
        // The order as it is now, not as it was first answered: a replay must not report a cancelled order as placed.
        var order = await db.Orders.AsNoTracking().Include(o => o.Lines).SingleOrDefaultAsync(o => o.Id == record.OrderId, cancellationToken);
        var body = order is null ? record.ResponseBody : JsonSerializer.Serialize(OrderResponse.From(order), OrderResponse.SerializerOptions);
        Log.Replayed(logger, record.OrderId, userId, order?.Status.ToString() ?? "unknown");
        return new PlacementResult.Replayed(record.OrderId, record.StatusCode, body);
    }

    /// <summary>
    /// What Loyalty would refuse, refused before anything is stored: a product priced at zero or less, a line or total
    /// that overflows, a total above <paramref name="maxTotal"/>. Null when the order can be priced.
    /// </summary>
    private static PlacementResult.Unpriceable? CheckPrices(IReadOnlyList<RequestedLine> lines, IReadOnlyDictionary<int, CatalogProduct?> products, long maxTotal)
    {
        var unpriced = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var tooLarge = new Dictionary<string, string[]>(StringComparer.Ordinal);
        long total = 0;
        var totalOverflows = false;
        foreach (var (line, index) in lines.Select((l, i) => (l, i)))
        {
            var price = products[line.ProductId]!.Price;
            if (price <= 0)
            {
                unpriced[$"items[{index}].productId"] = [$"Product {line.ProductId} has no price ({price} KRW) and cannot be ordered."];
                continue;
            }
            if (!TryMultiply(price, line.Quantity, out var lineTotal))
            {
                tooLarge[$"items[{index}].quantity"] = [$"{line.Quantity} × {price} KRW for product {line.ProductId} is too large to total."];
                continue;
            }
            if (!totalOverflows && !TryAdd(total, lineTotal, out total))
            {
                totalOverflows = true;
            }
        }
        if (unpriced.Count > 0)
        {
            return new PlacementResult.Unpriceable(StatusCodes.Status422UnprocessableEntity, "Product without a price", unpriced);
        }
        if (tooLarge.Count == 0 && (totalOverflows || total > maxTotal))
        {
            tooLarge["items"] = [$"The order total is above the largest accepted, {maxTotal} KRW; order fewer items."];
        }
        return tooLarge.Count > 0 ? new PlacementResult.Unpriceable(StatusCodes.Status400BadRequest, "Order total too large", tooLarge) : null;
    }

    private static bool TryMultiply(long a, long b, out long product)
    {
        try
        {
            product = checked(a * b);
            return true;
        }
        catch (OverflowException)
        {
            product = 0;
            return false;
        }
    }

    private static bool TryAdd(long a, long b, out long sum)
    {
        try
        {
            sum = checked(a + b);
            return true;
        }
        catch (OverflowException)
        {
            sum = 0;
            return false;
        }
    }

    private Order CreateOrder(string userId, IReadOnlyList<RequestedLine> lines, IReadOnlyDictionary<int, CatalogProduct?> products)
    {
        // Whole milliseconds: what the database gives back later is then exactly what this first answer says.
        var now = timeProvider.GetUtcNow();
        now = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
        var order = new Order
        {
            Id = Guid.CreateVersion7(now),
            UserId = userId,
            Status = OrderStatus.Placed,
            CreatedAt = now,
            ChangedAt = now,
            EventSequence = OrderEvents.PlacedSequence,
        };
        foreach (var (line, position) in lines.Select((l, i) => (l, i)))
        {
            var product = products[line.ProductId]!;
            order.Lines.Add(new OrderLine
            {
                OrderId = order.Id,
                Position = position,
                ProductId = product.Id,
                ProductName = product.Name,
                UnitPrice = product.Price,
                Quantity = line.Quantity,
            });
        }
        order.Total = order.Lines.Aggregate(0L, (sum, l) => checked(sum + (l.UnitPrice * l.Quantity)));
        return order;
    }

    /// <summary>
    /// SHA-256 (hex) of the lines sorted by product: two bodies that ask for the same products in the same
    /// quantities are the same request, whatever their spacing or the order of their lines.
    /// </summary>
    private static string HashOf(IReadOnlyList<RequestedLine> lines)
    {
        var canonical = string.Join('\n', lines.OrderBy(l => l.ProductId).Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.ProductId}x{l.Quantity}")));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Placed order {OrderId} for user {UserId}: {LineCount} lines, {Total} KRW")]
        public static partial void OrderPlaced(ILogger logger, Guid orderId, string userId, int lineCount, long total);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Answered a retry by user {UserId} with order {OrderId} as it is now ({Status})")]
        public static partial void Replayed(ILogger logger, Guid orderId, string userId, string status);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Catalog could not price an order; answering 503")]
        public static partial void CatalogUnavailable(ILogger logger, Exception exception);
    }
}
