namespace Portico.Messaging.Transport;

/// <summary>
/// What a broker must do for Portico.Messaging, and nothing more: publish to a topic, send to a queue, and run a
/// consumer of one queue whose deliveries are completed, retried later or dead-lettered by the dispatcher above it.
/// Retry counting, backoff and deserialization live above this line, so a transport is only the broker's mapping
/// (docs/messaging.md says what Kafka's would be).
/// </summary>
public interface IMessageTransport : IAsyncDisposable
{
    /// <summary>A short name for logs and metrics: <c>redis</c>, <c>rabbitmq</c>.</summary>
    string Name { get; }

    /// <summary>Delivers to every queue subscribed to <paramref name="topic"/>; returns once the broker confirms.</summary>
    Task PublishAsync(string topic, TransportMessage message, CancellationToken cancellationToken);

    /// <summary>Delivers to one queue; returns once the broker confirms.</summary>
    Task SendAsync(string queue, TransportMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Declares the endpoint's queue and subscriptions and starts delivering to <paramref name="onMessage"/>, which
    /// always settles each delivery (complete, retry or dead-letter) unless the consumer is stopped first.
    /// Disposing the result stops deliveries; unsettled ones come back to another consumer.
    /// </summary>
    Task<IAsyncDisposable> StartConsumerAsync(ConsumerEndpoint endpoint, Func<IncomingMessage, CancellationToken, Task> onMessage, CancellationToken cancellationToken);

    /// <summary>The oldest dead letters of a queue, oldest first, up to <paramref name="count"/>, without removing them.</summary>
    Task<IReadOnlyList<DeadLetter>> PeekDeadLettersAsync(string queue, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Moves up to <paramref name="count"/> of a queue's oldest dead letters back to it, each with its attempt count
    /// reset to 1 (after the cause was fixed); returns how many were moved.
    /// </summary>
    Task<int> ReplayDeadLettersAsync(string queue, int count, CancellationToken cancellationToken);

    /// <summary>
    /// How many messages a queue holds now (for operators: a job queue's backlog, say); null when this transport cannot
    /// tell. Reads only: nothing is declared, moved or acknowledged.
    /// </summary>
    Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken) => Task.FromResult<QueueDepth?>(null);
}

/// <summary>A message on the wire: its envelope and its JSON body.</summary>
public sealed record TransportMessage(MessageEnvelope Envelope, ReadOnlyMemory<byte> Body);

/// <summary>A message that was dead-lettered: why, and after how many attempts.</summary>
public sealed record DeadLetter(MessageEnvelope Envelope, ReadOnlyMemory<byte> Body, string Error, DateTimeOffset DeadLetteredAt);

/// <summary>One consumed queue: its name, the topics it subscribes to, and how many deliveries it handles at once.</summary>
public sealed record ConsumerEndpoint(string Queue, IReadOnlyList<string> Topics, int Concurrency, int MaxAttempts);

/// <summary>A delivery, settled exactly once by the dispatcher.</summary>
public abstract class IncomingMessage(TransportMessage message)
{
    public MessageEnvelope Envelope => message.Envelope;

    public ReadOnlyMemory<byte> Body => message.Body;

    /// <summary>Acknowledges: the broker forgets the message.</summary>
    public abstract Task CompleteAsync(CancellationToken cancellationToken);

    /// <summary>Hands the message back to be delivered again after <paramref name="delay"/> with the next attempt number.</summary>
    public abstract Task RetryAsync(TimeSpan delay, string error, CancellationToken cancellationToken);

    /// <summary>Moves the message to its queue's dead letters with the error and attempt count.</summary>
    public abstract Task DeadLetterAsync(string error, CancellationToken cancellationToken);
}
