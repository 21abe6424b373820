using Microsoft.EntityFrameworkCore;
using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Messaging.Inbox;
using Portico.Reporting.Infrastructure;
using Portico.Reporting.Model;

namespace Portico.Reporting.Sales;

/// <summary>
/// <c>OrderPlaced.v1</c> into the read model: the order with its day, customer and lines. If its cancellation came
/// first, the row is there already (cancelled) and only learns its lines: it never counts.
/// </summary>
internal sealed class OrderPlacedIntegrationEventHandler(ReportingDbContext db, TimeProvider time) : IMessageHandler<OrderPlaced>
{
    public const string Consumer = "reporting.sales.order-placed";

    public Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken) =>
        ReadModelWrites.ApplyOnceAsync(db, context, Consumer, async ct =>
        {
            var order = await db.Orders.Include(o => o.Lines).SingleOrDefaultAsync(o => o.OrderId == message.OrderId, ct);
            if (order is null)
            {
                order = new SaleOrder { OrderId = message.OrderId };
                db.Orders.Add(order);
            }
            else if (order.Placed)
            {
                return; // the same placement under another message id (an outbox row published twice)
            }
            var placedAt = message.PlacedAt.ToUniversalTime();
            order.UserId = message.UserId;
            order.PlacedAt = placedAt;
            order.Day = DateOnly.FromDateTime(placedAt.UtcDateTime);
            order.Total = message.Total;
            order.Placed = true;
            order.Lines = [.. message.Items.Select((item, i) => new SaleLine
            {
                OrderId = message.OrderId, Position = i, ProductId = item.ProductId, Quantity = item.Quantity, UnitPrice = item.UnitPrice,
            })];
        }, time, cancellationToken);
}

/// <summary>
/// <c>OrderCancelled.v1</c> into the read model: the order leaves the totals. A cancellation that arrives before its
/// placement leaves a cancelled row, so the placement, when it comes, does not count either.
/// </summary>
internal sealed class OrderCancelledIntegrationEventHandler(ReportingDbContext db, TimeProvider time) : IMessageHandler<OrderCancelled>
{
    public const string Consumer = "reporting.sales.order-cancelled";

    public Task HandleAsync(OrderCancelled message, MessageContext context, CancellationToken cancellationToken) =>
        ReadModelWrites.ApplyOnceAsync(db, context, Consumer, async ct =>
        {
            var order = await db.Orders.SingleOrDefaultAsync(o => o.OrderId == message.OrderId, ct);
            if (order is null)
            {
                order = new SaleOrder { OrderId = message.OrderId, UserId = message.UserId };
                db.Orders.Add(order);
            }
            else if (order.Cancelled)
            {
                return;
            }
            order.Cancelled = true;
            order.CancelledAt = message.CancelledAt;
        }, time, cancellationToken);
}

/// <summary>Read-model writes made once per message with the inbox.</summary>
internal static class ReadModelWrites
{
    /// <summary>
    /// Applies <paramref name="effects"/> with the inbox row in one transaction. When the inbox refuses, the message was
    /// either seen before (nothing to do) or lost a race on the order's key with the other event of the same order
    /// (handled at the same moment): only the inbox can tell, and in the second case the handler throws so the message
    /// is retried and applied to the row the other one made.
    /// </summary>
    public static async Task ApplyOnceAsync(
        ReportingDbContext db, MessageContext context, string consumer, Func<CancellationToken, Task> effects, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await db.ProcessOnceAsync(context, consumer, effects, time, cancellationToken))
        {
            return;
        }
        var id = context.Envelope.MessageId;
        if (!await db.Set<InboxMessage>().AsNoTracking().AnyAsync(m => m.MessageId == id && m.Consumer == consumer, cancellationToken))
        {
            throw new DbUpdateConcurrencyException($"Message {id} raced another write to the same order; it is retried.");
        }
    }
}
