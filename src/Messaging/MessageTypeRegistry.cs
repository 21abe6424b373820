using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.DependencyInjection;

namespace Portico.Messaging;

/// <summary>The message types this service knows, with their source-generated JSON, and the handlers of each queue.</summary>
internal sealed class MessageTypeRegistry
{
    private readonly Dictionary<Type, MessageTypeInfo> _byType = [];
    private readonly Dictionary<string, Dictionary<string, HandlerInvoker>> _handlersByQueue = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _topicsByQueue = new(StringComparer.Ordinal);

    public void AddType<TMessage>(JsonTypeInfo<TMessage> jsonTypeInfo) where TMessage : IIntegrationMessage =>
        _byType[typeof(TMessage)] = new MessageTypeInfo(TMessage.MessageType, jsonTypeInfo);

    public JsonTypeInfo<TMessage> JsonTypeInfo<TMessage>() where TMessage : IIntegrationMessage =>
        _byType.TryGetValue(typeof(TMessage), out var info)
            ? (JsonTypeInfo<TMessage>)info.JsonTypeInfo
            : throw new InvalidOperationException($"{typeof(TMessage).Name} is not registered: call AddMessage<{typeof(TMessage).Name}>() with its JsonTypeInfo.");

    /// <summary>Adds a handler of <typeparamref name="TMessage"/> on <paramref name="queue"/>; <paramref name="subscribe"/> binds the queue to the message's topic.</summary>
    public void AddHandler<TMessage, THandler>(string queue, bool subscribe)
        where TMessage : IIntegrationMessage
        where THandler : class, IMessageHandler<TMessage>
    {
        var jsonTypeInfo = JsonTypeInfo<TMessage>();
        if (!_handlersByQueue.TryGetValue(queue, out var handlers))
        {
            _handlersByQueue[queue] = handlers = new(StringComparer.Ordinal);
            _topicsByQueue[queue] = new(StringComparer.Ordinal);
        }
        if (!handlers.TryAdd(TMessage.MessageType, Invoke))
        {
            throw new InvalidOperationException($"Queue '{queue}' already has a handler of {TMessage.MessageType}.");
        }
        if (subscribe)
        {
            _topicsByQueue[queue].Add(TMessage.MessageType);
        }

        async Task Invoke(IServiceProvider services, ReadOnlyMemory<byte> body, MessageContext context, CancellationToken cancellationToken)
        {
            var message = JsonSerializer.Deserialize(body.Span, jsonTypeInfo)
                ?? throw new MessageFormatException($"The body of {context.Envelope.MessageType} is JSON null.");
            await services.GetRequiredService<THandler>().HandleAsync(message, context, cancellationToken);
        }
    }

    public IEnumerable<string> Queues => _handlersByQueue.Keys;

    public IReadOnlyList<string> TopicsOf(string queue) => [.. _topicsByQueue[queue]];

    public HandlerInvoker? Find(string queue, string messageType) =>
        _handlersByQueue.TryGetValue(queue, out var handlers) && handlers.TryGetValue(messageType, out var invoker) ? invoker : null;

    private sealed record MessageTypeInfo(string Name, JsonTypeInfo JsonTypeInfo);
}

internal delegate Task HandlerInvoker(IServiceProvider services, ReadOnlyMemory<byte> body, MessageContext context, CancellationToken cancellationToken);

/// <summary>A body that cannot become its message: retrying cannot help, so it is dead-lettered at once.</summary>
public sealed class MessageFormatException(string message, Exception? inner = null) : Exception(message, inner);
