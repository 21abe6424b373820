using System.Globalization;
using Microsoft.Extensions.Logging;
using Portico.Messaging.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Portico.Messaging.RabbitMQ;

/// <summary>
/// One consumer of one queue on its own channel (prefetch = the endpoint's concurrency). Deliveries are acknowledged
/// only once settled: after the handler returned, or after a retry or dead letter was confirmed by the broker.
/// Closing the channel hands every unacknowledged delivery back to the broker.
/// </summary>
internal sealed partial class RabbitMqConsumer(
    RabbitMqTransport transport, IChannel channel, ConsumerEndpoint endpoint, Func<IncomingMessage, CancellationToken, Task> onMessage,
    TimeProvider timeProvider, ILogger logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private CancellationToken _stoppingToken;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Kept: a delivery racing the consumer's disposal must not read the token of a disposed source.
        _stoppingToken = _stopping.Token;
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += OnReceivedAsync;
        await channel.BasicConsumeAsync(endpoint.Queue, autoAck: false, consumer, cancellationToken);
    }

    private async Task OnReceivedAsync(object sender, BasicDeliverEventArgs delivery)
    {
        var stoppingToken = _stoppingToken;
        if (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        // The body belongs to the client only for the duration of this call: copy it.
        var body = delivery.Body.ToArray();
        Incoming incoming;
        try
        {
            incoming = new Incoming(this, delivery.DeliveryTag, new TransportMessage(RabbitMqTransport.FromProperties(delivery.BasicProperties), body));
        }
        catch (MessageFormatException e)
        {
            Log.Unreadable(logger, e, endpoint.Queue);
            await RejectToDeadLetterAsync(delivery, body, e.Message, stoppingToken);
            return;
        }
        try
        {
            await onMessage(incoming, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Unacknowledged: the broker redelivers it when this channel closes.
        }
        catch (Exception e)
        {
            Log.SettleFailed(logger, e, endpoint.Queue);
            await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None).AsTask()
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task RejectToDeadLetterAsync(BasicDeliverEventArgs delivery, byte[] body, string error, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties(delivery.BasicProperties)
        {
            Headers = new Dictionary<string, object?>(delivery.BasicProperties.Headers ?? new Dictionary<string, object?>())
            {
                [RabbitMqTransport.Headers.Error] = error,
                [RabbitMqTransport.Headers.DeadLetteredAt] = timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            },
        };
        await transport.RepublishAsync(transport.DeadLetterExchange, endpoint.Queue, properties, body, cancellationToken);
        await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            // Closing hands unacknowledged deliveries back; a handler still running cannot ack on a closed channel.
            await channel.AbortAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            Log.CloseFailed(logger, e, endpoint.Queue);
        }
        await channel.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task AckAsync(ulong deliveryTag, CancellationToken cancellationToken) =>
        await channel.BasicAckAsync(deliveryTag, multiple: false, cancellationToken);

    private async Task RetryAsync(ulong deliveryTag, MessageEnvelope envelope, ReadOnlyMemory<byte> body, TimeSpan delay, CancellationToken cancellationToken)
    {
        var next = RabbitMqTransport.ToProperties(envelope with { Attempt = envelope.Attempt + 1 });
        next.Expiration = ((long)Math.Max(1, delay.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        // Confirmed in the delay queue first, acknowledged second: a crash between them duplicates, never loses.
        await transport.RepublishAsync(string.Empty, RabbitMqTransport.RetryQueue(endpoint.Queue, envelope.Attempt), next, body, cancellationToken);
        await AckAsync(deliveryTag, cancellationToken);
    }

    private async Task DeadLetterAsync(ulong deliveryTag, MessageEnvelope envelope, ReadOnlyMemory<byte> body, string error, CancellationToken cancellationToken)
    {
        var dead = RabbitMqTransport.ToProperties(envelope, error, timeProvider.GetUtcNow());
        await transport.RepublishAsync(transport.DeadLetterExchange, endpoint.Queue, dead, body, cancellationToken);
        await AckAsync(deliveryTag, cancellationToken);
    }

    private sealed class Incoming(RabbitMqConsumer consumer, ulong deliveryTag, TransportMessage message) : IncomingMessage(message)
    {
        public override Task CompleteAsync(CancellationToken cancellationToken) => consumer.AckAsync(deliveryTag, cancellationToken);

        public override Task RetryAsync(TimeSpan delay, string error, CancellationToken cancellationToken) =>
            consumer.RetryAsync(deliveryTag, Envelope, Body, delay, cancellationToken);

        public override Task DeadLetterAsync(string error, CancellationToken cancellationToken) =>
            consumer.DeadLetterAsync(deliveryTag, Envelope, Body, error, cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "A message of queue {Queue} is not a Portico message; dead-lettered as it is")]
        public static partial void Unreadable(ILogger logger, Exception exception, string queue);

        [LoggerMessage(2, LogLevel.Warning, "Settling a message of queue {Queue} failed; handing it back to the broker")]
        public static partial void SettleFailed(ILogger logger, Exception exception, string queue);

        [LoggerMessage(3, LogLevel.Warning, "Closing the consumer channel of queue {Queue} failed")]
        public static partial void CloseFailed(ILogger logger, Exception exception, string queue);
    }
}
