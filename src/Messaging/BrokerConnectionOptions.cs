using Portico.Messaging.Transport;

namespace Portico.Messaging;

/// <summary>The connection strings that choose the transport.</summary>
internal sealed class BrokerConnectionOptions
{
    public string? Broker { get; set; }

    public string? Store { get; set; }

    public bool IsRabbitMq => Broker is not null && (Broker.StartsWith("amqp://", StringComparison.OrdinalIgnoreCase) || Broker.StartsWith("amqps://", StringComparison.OrdinalIgnoreCase));

    public string? RedisConnectionString => IsRabbitMq ? null : string.IsNullOrWhiteSpace(Broker) ? Store : Broker;

    public bool IsConfigured => IsRabbitMq || !string.IsNullOrWhiteSpace(RedisConnectionString);
}

/// <summary>Stands in when no broker is configured: every use says so. The outbox relay checks first and stays idle.</summary>
internal sealed class NoBrokerTransport : IMessageTransport
{
    private const string Message = "No broker is configured: set ConnectionStrings:broker or ConnectionStrings:store.";

    public string Name => "none";

    public Task PublishAsync(string topic, TransportMessage message, CancellationToken cancellationToken) => throw new InvalidOperationException(Message);

    public Task SendAsync(string queue, TransportMessage message, CancellationToken cancellationToken) => throw new InvalidOperationException(Message);

    public Task<IAsyncDisposable> StartConsumerAsync(ConsumerEndpoint endpoint, Func<IncomingMessage, CancellationToken, Task> onMessage, CancellationToken cancellationToken) =>
        throw new InvalidOperationException(Message);

    public Task<IReadOnlyList<DeadLetter>> PeekDeadLettersAsync(string queue, int count, CancellationToken cancellationToken) => throw new InvalidOperationException(Message);

    public Task<int> ReplayDeadLettersAsync(string queue, int count, CancellationToken cancellationToken) => throw new InvalidOperationException(Message);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
