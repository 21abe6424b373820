using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Infrastructure;
using Portico.Catalog.Model;
using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Messaging.Inbox;
using Portico.Messaging.Outbox;

namespace Portico.Catalog.Stock;

/// <summary>
/// Takes down the stock of every line of a placed order, all or nothing. When any line is short (or names a product
/// Catalog does not have), nothing is taken and <c>StockRejected</c> goes out through the outbox, naming the short
/// products; Ordering then cancels the order. The stock updates, the order's <see cref="StockReservation"/>, the
/// outbox row and the inbox row are one transaction, so a redelivered message or a second copy of the event changes
/// nothing, and an order whose cancel came first (a marker is waiting) takes nothing.
/// </summary>
internal sealed partial class OrderPlacedIntegrationEventHandler(
    CatalogDbContext db, OutboxSignal outboxSignal, TimeProvider timeProvider, ILogger<OrderPlacedIntegrationEventHandler> logger)
    : IMessageHandler<OrderPlaced>
{
    public const string Consumer = "catalog.stock.order-placed";

    public async Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
    {
        // Quantities are summed per product, and products are updated in id order, so two orders cannot deadlock on PostgreSQL.
        var wanted = message.Items.GroupBy(i => i.ProductId).Select(g => (ProductId: g.Key, Quantity: g.Sum(i => (long)i.Quantity))).OrderBy(l => l.ProductId).ToList();
        if (wanted.Count == 0 || wanted.Any(l => l.Quantity is < 1 or > int.MaxValue))
        {
            // Retrying cannot make it valid; a negative quantity would add stock.
            throw new MessageFormatException($"OrderPlaced {message.OrderId} has no lines or a quantity that is not positive.");
        }

        var outcome = StockOutcome.AlreadyKnown;
        List<int> shortIds = [];
        // On SQLite this is BEGIN IMMEDIATE: Catalog instances sharing the file take turns. On PostgreSQL the
        // conditional updates lock their rows, and the reservation's key stops a second handler of the same order.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var processed = await db.ProcessOnceAsync(context, Consumer, async ct =>
        {
            if (await db.StockReservations.AnyAsync(r => r.OrderId == message.OrderId, ct))
            {
                return; // handled under another message id, or cancelled before it was placed
            }
            var now = timeProvider.GetUtcNow();
            var taken = new List<(int ProductId, int Quantity)>();
            foreach (var (productId, quantity) in wanted)
            {
                var amount = (int)quantity;
                var updated = await db.Products.Where(p => p.Id == productId && p.Stock >= amount)
                    .ExecuteUpdateAsync(s => s.SetProperty(p => p.Stock, p => p.Stock - amount), ct);
                if (updated == 1)
                {
                    taken.Add((productId, amount));
                }
                else
                {
                    shortIds.Add(productId);
                }
            }
            if (shortIds.Count > 0)
            {
                // All or nothing: give back what this order took a moment ago, in the same transaction.
                foreach (var (productId, amount) in taken)
                {
                    await db.Products.Where(p => p.Id == productId).ExecuteUpdateAsync(s => s.SetProperty(p => p.Stock, p => p.Stock + amount), ct);
                }
                db.Outbox.Add(OutboxMessage.Create(
                    new StockRejected(message.OrderId, shortIds, now),
                    EventsJsonContext.Default.StockRejected,
                    now,
                    new MessageProperties { CorrelationId = message.OrderId.ToString(), PartitionKey = message.OrderId.ToString() }));
            }
            outcome = shortIds.Count > 0 ? StockOutcome.Rejected : StockOutcome.Taken;
            db.StockReservations.Add(new StockReservation
            {
                OrderId = message.OrderId,
                Status = shortIds.Count > 0 ? StockReservationStatus.Rejected : StockReservationStatus.Taken,
                CreatedAt = now,
                UpdatedAt = now,
                Lines = [.. wanted.Select(l => new StockReservationLine { OrderId = message.OrderId, ProductId = l.ProductId, Quantity = (int)l.Quantity })],
            });
            // Saved here, not with the inbox row: a clash on the reservation's key (another handler of this order won a
            // race) must throw and be retried, not pass for a duplicate of this message.
            await db.SaveChangesAsync(ct);
        }, timeProvider, cancellationToken);

        if (!processed)
        {
            await transaction.RollbackAsync(cancellationToken);
            Log.Duplicate(logger, message.OrderId, context.Envelope.MessageId);
            return;
        }
        await transaction.CommitAsync(cancellationToken);
        switch (outcome)
        {
            case StockOutcome.Taken:
                Log.Taken(logger, message.OrderId, wanted.Count);
                break;
            case StockOutcome.Rejected:
                outboxSignal.Notify();
                Log.Rejected(logger, message.OrderId, string.Join(", ", shortIds));
                break;
            default:
                Log.AlreadyKnown(logger, message.OrderId);
                break;
        }
    }

    private enum StockOutcome
    {
        AlreadyKnown,
        Taken,
        Rejected,
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Took the stock of order {OrderId}: {LineCount} products")]
        public static partial void Taken(ILogger logger, Guid orderId, int lineCount);

        [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Rejected order {OrderId}: short of products {ProductIds}; nothing taken")]
        public static partial void Rejected(ILogger logger, Guid orderId, string productIds);

        [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Order {OrderId} was handled or cancelled before; its placement changes nothing")]
        public static partial void AlreadyKnown(ILogger logger, Guid orderId);

        [LoggerMessage(EventId = 13, Level = LogLevel.Debug, Message = "OrderPlaced of order {OrderId} (message {MessageId}) was handled before; ignored")]
        public static partial void Duplicate(ILogger logger, Guid orderId, Guid messageId);
    }
}
