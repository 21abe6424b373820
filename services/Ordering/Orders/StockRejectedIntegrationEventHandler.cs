using Microsoft.EntityFrameworkCore;
using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Messaging.Inbox;
using Portico.Messaging.Outbox;
using Portico.Ordering.Infrastructure;
using Portico.Ordering.Model;

namespace Portico.Ordering.Orders;

/// <summary>
/// Catalog could not take an order's stock: the order is cancelled with reason <c>out-of-stock</c> and
/// <c>OrderCancelled.v1</c> goes out through the outbox, as when the user cancels, so Loyalty reverts its points.
/// The conditional update, the outbox row and the inbox row are one transaction: a redelivery changes nothing, and an
/// order the user cancelled first stays cancelled by the user.
/// </summary>
internal sealed partial class StockRejectedIntegrationEventHandler(
    OrderingDbContext db, OutboxSignal outboxSignal, TimeProvider timeProvider, ILogger<StockRejectedIntegrationEventHandler> logger)
    : IMessageHandler<StockRejected>
{
    public const string Consumer = "ordering.stock-rejected";

    public async Task HandleAsync(StockRejected message, MessageContext context, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        now = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
        var cancelled = false;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var processed = await db.ProcessOnceAsync(context, Consumer, async ct =>
        {
            // One conditional update: of this and a user's cancel, exactly one finds the order still Placed.
            cancelled = 1 == await db.Orders
                .Where(o => o.Id == message.OrderId && o.Status == OrderStatus.Placed)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(o => o.Status, OrderStatus.Cancelled)
                    .SetProperty(o => o.CancelledAt, now)
                    .SetProperty(o => o.CancellationReason, CancellationReasons.OutOfStock)
                    .SetProperty(o => o.ChangedAt, now)
                    .SetProperty(o => o.EventSequence, o => o.EventSequence + 1), ct);
            if (cancelled)
            {
                var order = await db.Orders.AsNoTracking().Where(o => o.Id == message.OrderId).Select(o => new { o.UserId, o.Total, o.EventSequence }).SingleAsync(ct);
                db.Outbox.Add(OrderEvents.Cancelled(message.OrderId, order.UserId, order.Total, now, order.EventSequence));
            }
        }, timeProvider, cancellationToken);

        if (!processed)
        {
            await transaction.RollbackAsync(cancellationToken);
            return;
        }
        await transaction.CommitAsync(cancellationToken);
        if (cancelled)
        {
            outboxSignal.Notify();
            Log.Cancelled(logger, message.OrderId, string.Join(", ", message.ProductIds));
        }
        else
        {
            Log.NotPlaced(logger, message.OrderId);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Cancelled order {OrderId}: out of stock of products {ProductIds}")]
        public static partial void Cancelled(ILogger logger, Guid orderId, string productIds);

        [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Stock of order {OrderId} was rejected, but it is not a placed order (cancelled already, or unknown); nothing to do")]
        public static partial void NotPlaced(ILogger logger, Guid orderId);
    }
}
