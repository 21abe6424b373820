namespace Portico.Messaging;

/// <summary>Publishes events to their topic and sends commands to named queues. Returns once the broker has the message.</summary>
public interface IMessageBus
{
    /// <summary>Publishes an event to every queue subscribed to <c>TMessage.MessageType</c>.</summary>
    Task PublishAsync<TMessage>(TMessage message, MessageProperties? properties = null, CancellationToken cancellationToken = default)
        where TMessage : IIntegrationMessage;

    /// <summary>Sends a command to one named queue.</summary>
    Task SendAsync<TMessage>(string queue, TMessage message, MessageProperties? properties = null, CancellationToken cancellationToken = default)
        where TMessage : IIntegrationMessage;
}

/// <summary>
/// Handles one message type. Registered in DI (scoped) and called once per delivery with a token that is cancelled
/// when the service stops. Returning acknowledges the message; throwing retries it with backoff, then dead-letters it.
/// Deliveries are at least once: make the effect idempotent, e.g. with the inbox.
/// </summary>
public interface IMessageHandler<in TMessage> where TMessage : IIntegrationMessage
{
    Task HandleAsync(TMessage message, MessageContext context, CancellationToken cancellationToken);
}
