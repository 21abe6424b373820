using System.Diagnostics;
using System.Text.Json;
using Portico.Messaging.Transport;

namespace Portico.Messaging;

internal sealed class MessageBus(IMessageTransport transport, MessageTypeRegistry registry, TimeProvider timeProvider) : IMessageBus
{
    public Task PublishAsync<TMessage>(TMessage message, MessageProperties? properties = null, CancellationToken cancellationToken = default)
        where TMessage : IIntegrationMessage
    {
        var wire = ToWire(message, properties);
        return SendWithActivityAsync("publish", TMessage.MessageType, wire, (w, ct) => transport.PublishAsync(TMessage.MessageType, w, ct), cancellationToken);
    }

    public Task SendAsync<TMessage>(string queue, TMessage message, MessageProperties? properties = null, CancellationToken cancellationToken = default)
        where TMessage : IIntegrationMessage
    {
        if (!QueueNames.IsValid(queue))
        {
            throw new ArgumentException($"'{queue}' is not a valid queue name.", nameof(queue));
        }
        var wire = ToWire(message, properties);
        return SendWithActivityAsync("send", queue, wire, (w, ct) => transport.SendAsync(queue, w, ct), cancellationToken);
    }

    private TransportMessage ToWire<TMessage>(TMessage message, MessageProperties? properties) where TMessage : IIntegrationMessage
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(message, registry.JsonTypeInfo<TMessage>());
        var envelope = new MessageEnvelope
        {
            MessageId = properties?.MessageId ?? Guid.CreateVersion7(timeProvider.GetUtcNow()),
            MessageType = TMessage.MessageType,
            SentAt = timeProvider.GetUtcNow(),
            CorrelationId = properties?.CorrelationId,
            PartitionKey = properties?.PartitionKey,
            AggregateId = properties?.AggregateId,
            AggregateSequence = properties?.AggregateSequence,
        };
        return new TransportMessage(envelope, body);
    }

    private static async Task SendWithActivityAsync(string operation, string destination, TransportMessage wire, Func<TransportMessage, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        using var activity = MessagingTelemetry.ActivitySource.StartActivity($"{operation} {destination}", ActivityKind.Producer);
        activity?.SetTag("messaging.destination.name", destination);
        activity?.SetTag("messaging.message.id", wire.Envelope.MessageId.ToString());
        // The message carries the producer span's context, so the consumer's span joins this trace.
        var traceParent = Activity.Current?.Id;
        if (traceParent is not null)
        {
            wire = wire with { Envelope = wire.Envelope with { TraceParent = traceParent } };
        }
        await send(wire, cancellationToken);
    }
}

internal static class MessagingTelemetry
{
    public static readonly ActivitySource ActivitySource = new("Portico.Messaging");
}
