using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Messaging.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Portico.Messaging.RabbitMQ;

/// <summary>
/// Messaging over RabbitMQ (AMQP 0-9-1, RabbitMQ.Client 7). Events go to the durable topic exchange
/// <c>{Namespace}.events</c> with the message type as routing key; each consuming queue is durable and bound to the types it
/// handles. Publishing waits for the broker's confirm. A consumer acknowledges after its handler returns; a failed
/// attempt is republished to the queue's delay queue for that attempt (<c>{queue}.retry.{n}</c>), whose per-message
/// TTL dead-letters it back to the queue when due; after the last attempt the message goes to the exchange
/// <c>{Namespace}.dead-letter</c> and the queue <c>{queue}.dead-letter</c> with its error. The connection recovers by
/// itself, topology included.
/// </summary>
internal sealed partial class RabbitMqTransport : IMessageTransport
{

    private readonly ConnectionFactory _factory;
    private readonly IOptions<MessagingOptions> _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<RabbitMqTransport> _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ConcurrentDictionary<string, bool> _declaredQueues = new(StringComparer.Ordinal);
    private IConnection? _connection;
    private IChannel? _publisher;

    public RabbitMqTransport(Uri uri, IOptions<MessagingOptions> options, TimeProvider timeProvider, ILogger<RabbitMqTransport> logger)
    {
        _factory = new ConnectionFactory
        {
            Uri = uri,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(2),
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
            ClientProvidedName = $"portico-{AppDomain.CurrentDomain.FriendlyName}",
        };
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public string Name => "rabbitmq";

    /// <summary>The topic exchange events are published to (<c>{Namespace}.events</c>).</summary>
    internal string EventsExchange => $"{_options.Value.Namespace}.events";

    /// <summary>The direct exchange of dead letters, routed by queue name (<c>{Namespace}.dead-letter</c>).</summary>
    internal string DeadLetterExchange => $"{_options.Value.Namespace}.dead-letter";

    private async Task<IConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is { } connection)
        {
            return connection;
        }
        await _lock.WaitAsync(cancellationToken);
        try
        {
            // Recovery keeps an established connection alive; the first one must succeed once, so callers retry it.
            return _connection ??= await _factory.CreateConnectionAsync(cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The channel every publish goes through, with confirms tracked by the client: a publish returns once confirmed.</summary>
    private async Task<IChannel> GetPublisherAsync(CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        if (Volatile.Read(ref _publisher) is { IsOpen: true } open)
        {
            return open;
        }
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_publisher is { IsOpen: true } existing)
            {
                return existing;
            }
            if (_publisher is not null)
            {
                await _publisher.DisposeAsync();
            }
            _publisher = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            // Declared on every new channel (idempotent, cheap): an exchange deleted while running comes back.
            await DeclareExchangesAsync(_publisher, cancellationToken);
            return _publisher;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task DeclareExchangesAsync(IChannel channel, CancellationToken cancellationToken)
    {
        await channel.ExchangeDeclareAsync(EventsExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.ExchangeDeclareAsync(DeadLetterExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken);
    }

    public async Task PublishAsync(string topic, TransportMessage message, CancellationToken cancellationToken)
    {
        var channel = await GetPublisherAsync(cancellationToken);
        await channel.BasicPublishAsync(EventsExchange, topic, mandatory: false, ToProperties(message.Envelope), message.Body, cancellationToken);
    }

    public async Task SendAsync(string queue, TransportMessage message, CancellationToken cancellationToken)
    {
        var channel = await GetPublisherAsync(cancellationToken);
        if (!_declaredQueues.ContainsKey(queue))
        {
            // The receiver declares it too, the same way; whichever comes first, nothing sent is unroutable.
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
            _declaredQueues[queue] = true;
        }
        // Mandatory: should the queue be gone, the broker returns the message and the publish throws.
        await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, ToProperties(message.Envelope), message.Body, cancellationToken);
    }

    internal async Task RepublishAsync(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var channel = await GetPublisherAsync(cancellationToken);
        await channel.BasicPublishAsync(exchange, routingKey, mandatory: true, properties, body, cancellationToken);
    }

    public async Task<IAsyncDisposable> StartConsumerAsync(ConsumerEndpoint endpoint, Func<IncomingMessage, CancellationToken, Task> onMessage, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false, consumerDispatchConcurrency: (ushort)Math.Min(endpoint.Concurrency, ushort.MaxValue)),
            cancellationToken);
        try
        {
            await DeclareTopologyAsync(channel, endpoint, cancellationToken);
            await channel.BasicQosAsync(0, (ushort)Math.Min(endpoint.Concurrency, ushort.MaxValue), global: false, cancellationToken);
            var consumer = new RabbitMqConsumer(this, channel, endpoint, onMessage, _timeProvider, _logger);
            await consumer.StartAsync(cancellationToken);
            return consumer;
        }
        catch
        {
            await channel.DisposeAsync();
            throw;
        }
    }

    private async Task DeclareTopologyAsync(IChannel channel, ConsumerEndpoint endpoint, CancellationToken cancellationToken)
    {
        var queue = endpoint.Queue;
        await DeclareExchangesAsync(channel, cancellationToken);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        _declaredQueues[queue] = true;
        foreach (var topic in endpoint.Topics)
        {
            await channel.QueueBindAsync(queue, EventsExchange, topic, cancellationToken: cancellationToken);
        }
        for (var attempt = 1; attempt < endpoint.MaxAttempts; attempt++)
        {
            // Every message in one delay queue has the same TTL, so the head always expires first.
            await channel.QueueDeclareAsync(RetryQueue(queue, attempt), durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?>
                {
                    ["x-dead-letter-exchange"] = string.Empty,
                    ["x-dead-letter-routing-key"] = queue,
                },
                cancellationToken: cancellationToken);
        }
        await channel.QueueDeclareAsync(DeadLetterQueue(queue), durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueBindAsync(DeadLetterQueue(queue), DeadLetterExchange, queue, cancellationToken: cancellationToken);
    }

    internal static string RetryQueue(string queue, int attempt) => $"{queue}.retry.{attempt.ToString(CultureInfo.InvariantCulture)}";

    internal static string DeadLetterQueue(string queue) => $"{queue}.dead-letter";

    public async Task<IReadOnlyList<DeadLetter>> PeekDeadLettersAsync(string queue, int count, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await using (channel)
        {
            var letters = new List<DeadLetter>();
            while (letters.Count < count && await channel.BasicGetAsync(DeadLetterQueue(queue), autoAck: false, cancellationToken) is { } result)
            {
                var envelope = FromProperties(result.BasicProperties);
                letters.Add(new DeadLetter(envelope, result.Body.ToArray(), Header(result.BasicProperties, Headers.Error) ?? "", ParseTime(Header(result.BasicProperties, Headers.DeadLetteredAt))));
            }
            // Unacknowledged: closing the channel puts them back, in order.
            await channel.CloseAsync(cancellationToken);
            return letters;
        }
    }

    public async Task<int> ReplayDeadLettersAsync(string queue, int count, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await using (channel)
        {
            var replayed = 0;
            while (replayed < count && await channel.BasicGetAsync(DeadLetterQueue(queue), autoAck: false, cancellationToken) is { } result)
            {
                MessageEnvelope envelope;
                try
                {
                    envelope = FromProperties(result.BasicProperties) with { Attempt = 1 };
                }
                catch (MessageFormatException)
                {
                    // Not a Portico message: it stays a dead letter.
                    await channel.BasicNackAsync(result.DeliveryTag, multiple: false, requeue: true, cancellationToken);
                    break;
                }
                // Confirmed back in the queue first, removed from the dead letters second: a crash between them duplicates.
                await RepublishAsync(string.Empty, queue, ToProperties(envelope), result.Body.ToArray(), cancellationToken);
                await channel.BasicAckAsync(result.DeliveryTag, multiple: false, cancellationToken);
                replayed++;
            }
            await channel.CloseAsync(cancellationToken);
            return replayed;
        }
    }

    /// <summary>
    /// The queue's ready messages and consumers, its retry queues' messages and its dead letters, by passive declares
    /// (which create nothing). In-flight deliveries are null: AMQP tells a client no count of unacknowledged ones.
    /// </summary>
    public async Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        IChannel? channel = null;
        try
        {
            async Task<QueueDeclareOk?> CountAsync(string name)
            {
                channel ??= await connection.CreateChannelAsync(cancellationToken: cancellationToken);
                try
                {
                    return await channel.QueueDeclarePassiveAsync(name, cancellationToken);
                }
                catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.NotFound)
                {
                    // A queue never declared holds nothing; the broker closed the channel to say so.
                    await channel.DisposeAsync();
                    channel = null;
                    return null;
                }
            }

            var ready = await CountAsync(queue);
            var dead = await CountAsync(DeadLetterQueue(queue));
            long delayed = 0;
            // Retry queues are declared for attempts 1 … MaxAttempts − 1 by the queue's consumers; the first missing one ends them.
            for (var attempt = 1; attempt <= MaxRetryQueues && await CountAsync(RetryQueue(queue, attempt)) is { } retry; attempt++)
            {
                delayed += retry.MessageCount;
            }
            return new QueueDepth(ready?.MessageCount ?? 0, InFlight: null, delayed, dead?.MessageCount ?? 0, (int)(ready?.ConsumerCount ?? 0));
        }
        finally
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }
        }
    }

    /// <summary>More retry queues than any queue's attempts: a bound on the passive declares of one depth.</summary>
    private const int MaxRetryQueues = 100;

    internal static BasicProperties ToProperties(MessageEnvelope envelope, string? error = null, DateTimeOffset? deadLetteredAt = null)
    {
        var headers = new Dictionary<string, object?>
        {
            [Headers.Attempt] = envelope.Attempt,
            [Headers.SentAt] = envelope.SentAt.ToString("O", CultureInfo.InvariantCulture),
        };
        if (envelope.TraceParent is not null)
        {
            headers[Headers.TraceParent] = envelope.TraceParent;
        }
        if (envelope.PartitionKey is not null)
        {
            headers[Headers.PartitionKey] = envelope.PartitionKey;
        }
        if (envelope.AggregateId is not null)
        {
            headers[Headers.AggregateId] = envelope.AggregateId;
        }
        if (envelope.AggregateSequence is { } sequence)
        {
            headers[Headers.AggregateSequence] = sequence;
        }
        if (error is not null)
        {
            headers[Headers.Error] = error;
        }
        if (deadLetteredAt is { } at)
        {
            headers[Headers.DeadLetteredAt] = at.ToString("O", CultureInfo.InvariantCulture);
        }
        return new BasicProperties
        {
            MessageId = envelope.MessageId.ToString(),
            Type = envelope.MessageType,
            CorrelationId = envelope.CorrelationId,
            ContentType = "application/json",
            Persistent = true,
            Timestamp = new AmqpTimestamp(envelope.SentAt.ToUnixTimeSeconds()),
            Headers = headers,
        };
    }

    internal static MessageEnvelope FromProperties(IReadOnlyBasicProperties properties)
    {
        var attempt = properties.Headers?.TryGetValue(Headers.Attempt, out var a) == true ? Convert.ToInt32(a, CultureInfo.InvariantCulture) : 1;
        return new MessageEnvelope
        {
            MessageId = Guid.TryParse(properties.MessageId, out var id) ? id : throw new MessageFormatException($"The message id '{properties.MessageId}' is not a GUID."),
            MessageType = properties.Type ?? throw new MessageFormatException("The message has no type."),
            SentAt = ParseTime(Header(properties, Headers.SentAt)) is var sent && sent != default ? sent : DateTimeOffset.FromUnixTimeSeconds(properties.Timestamp.UnixTime),
            CorrelationId = properties.CorrelationId,
            TraceParent = Header(properties, Headers.TraceParent),
            PartitionKey = Header(properties, Headers.PartitionKey),
            AggregateId = Header(properties, Headers.AggregateId),
            AggregateSequence = properties.Headers?.TryGetValue(Headers.AggregateSequence, out var s) == true && s is not null
                ? Convert.ToInt64(s, CultureInfo.InvariantCulture)
                : null,
            Attempt = attempt,
        };
    }

    /// <summary>A string header: the client hands AMQP long strings over as bytes.</summary>
    private static string? Header(IReadOnlyBasicProperties properties, string name) =>
        properties.Headers?.TryGetValue(name, out var value) == true
            ? value switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                string s => s,
                null => null,
                _ => Convert.ToString(value, CultureInfo.InvariantCulture),
            }
            : null;

    private static DateTimeOffset ParseTime(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time) ? time : default;

    internal static class Headers
    {
        public const string Attempt = "x-portico-attempt";
        public const string SentAt = "x-portico-sent-at";
        public const string TraceParent = "traceparent";
        public const string PartitionKey = "x-portico-partition-key";
        public const string AggregateId = "x-portico-aggregate-id";
        public const string AggregateSequence = "x-portico-aggregate-sequence";
        public const string Error = "x-portico-error";
        public const string DeadLetteredAt = "x-portico-dead-lettered-at";
    }

    public async ValueTask DisposeAsync()
    {
        if (_publisher is not null)
        {
            await _publisher.DisposeAsync();
        }
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
        _lock.Dispose();
    }
}
