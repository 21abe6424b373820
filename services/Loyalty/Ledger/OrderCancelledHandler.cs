using Portico.Contracts.Events;
using Portico.Messaging;

namespace Portico.Loyalty.Ledger;

/// <summary>
/// <c>OrderCancelled.v1</c> from Ordering: the order's points are reverted (or, when it earned none yet, the order is
/// marked reverted so a later accrual is refused). Once per message and in the order's event order: the revert, the
/// inbox row and the order's last applied sequence commit together (<see cref="PointsLedger.RevertForEventAsync"/>).
/// </summary>
internal sealed partial class OrderCancelledHandler(PointsLedger ledger, ILogger<OrderCancelledHandler> logger) : IMessageHandler<OrderCancelled>
{
    public async Task HandleAsync(OrderCancelled message, MessageContext context, CancellationToken cancellationToken)
    {
        var orderId = message.OrderId.ToString();
        var change = await ledger.RevertForEventAsync(orderId, context, cancellationToken);
        if (change is null)
        {
            Log.Skipped(logger, orderId, context.Envelope.MessageId);
            return;
        }
        if (change.Value.Outcome == LedgerOutcome.InsufficientBalance)
        {
            // Cannot happen while only reverts take points away; recorded as handled, since retrying cannot help.
            Log.InsufficientBalance(logger, orderId, change.Value.Points, change.Value.Balance);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "OrderCancelled of order {OrderId} (message {MessageId}) was a duplicate or stale; nothing done")]
        public static partial void Skipped(ILogger logger, string orderId, Guid messageId);

        [LoggerMessage(2, LogLevel.Error, "Order {OrderId} was cancelled but its {Points} points exceed the balance {Balance}; not reverted")]
        public static partial void InsufficientBalance(ILogger logger, string orderId, long points, long balance);
    }
}
