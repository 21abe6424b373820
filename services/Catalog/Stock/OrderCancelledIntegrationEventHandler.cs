using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Infrastructure;
using Portico.Catalog.Model;
using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Messaging.Inbox;

namespace Portico.Catalog.Stock;

/// <summary>
/// Puts back the stock of a cancelled order, once, and only when its placement took stock: the order's
/// <see cref="StockReservation"/> goes from <see cref="StockReservationStatus.Taken"/> to
/// <see cref="StockReservationStatus.Released"/> in one conditional update, with the stock and the inbox row in the
/// same transaction. A cancel that arrives before its placement leaves a marker, so that placement takes nothing.
/// </summary>
internal sealed partial class OrderCancelledIntegrationEventHandler(
    CatalogDbContext db, TimeProvider timeProvider, ILogger<OrderCancelledIntegrationEventHandler> logger)
    : IMessageHandler<OrderCancelled>
{
    public const string Consumer = "catalog.stock.order-cancelled";

    public async Task HandleAsync(OrderCancelled message, MessageContext context, CancellationToken cancellationToken)
    {
        var outcome = ReleaseOutcome.Nothing;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var processed = await db.ProcessOnceAsync(context, Consumer, async ct =>
        {
            var now = timeProvider.GetUtcNow();
            var reservation = await db.StockReservations.AsNoTracking().Include(r => r.Lines).SingleOrDefaultAsync(r => r.OrderId == message.OrderId, ct);
            if (reservation is null)
            {
                db.StockReservations.Add(new StockReservation
                {
                    OrderId = message.OrderId,
                    Status = StockReservationStatus.CancelledBeforePlacement,
                    CreatedAt = now,
                    UpdatedAt = now,
                });
                // Saved here: if the placement is being recorded at this moment, the key clash throws and the cancel is
                // retried (and then finds the stock taken), rather than passing for a duplicate of this message.
                await db.SaveChangesAsync(ct);
                outcome = ReleaseOutcome.Marked;
                return;
            }
            var released = await db.StockReservations
                .Where(r => r.OrderId == message.OrderId && r.Status == StockReservationStatus.Taken)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, StockReservationStatus.Released).SetProperty(r => r.UpdatedAt, now), ct);
            if (released == 1)
            {
                foreach (var line in reservation.Lines.OrderBy(l => l.ProductId))
                {
                    var amount = line.Quantity;
                    await db.Products.Where(p => p.Id == line.ProductId).ExecuteUpdateAsync(s => s.SetProperty(p => p.Stock, p => p.Stock + amount), ct);
                }
                outcome = ReleaseOutcome.Released;
            }
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
            case ReleaseOutcome.Released:
                Log.Released(logger, message.OrderId);
                break;
            case ReleaseOutcome.Marked:
                Log.Marked(logger, message.OrderId);
                break;
            default:
                Log.NothingToRelease(logger, message.OrderId);
                break;
        }
    }

    private enum ReleaseOutcome
    {
        Nothing,
        Released,
        Marked,
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Put back the stock of cancelled order {OrderId}")]
        public static partial void Released(ILogger logger, Guid orderId);

        [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Order {OrderId} was cancelled before its placement arrived; its placement will take nothing")]
        public static partial void Marked(ILogger logger, Guid orderId);

        [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Cancelled order {OrderId} holds no stock (rejected or already put back)")]
        public static partial void NothingToRelease(ILogger logger, Guid orderId);

        [LoggerMessage(EventId = 23, Level = LogLevel.Debug, Message = "OrderCancelled of order {OrderId} (message {MessageId}) was handled before; ignored")]
        public static partial void Duplicate(ILogger logger, Guid orderId, Guid messageId);
    }
}
