using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Messaging.Transport;
using StackExchange.Redis;

namespace Portico.Messaging.Redis;

/// <summary>
/// Messaging over the Redis protocol, on the commands Garnet and Redis 7 share (lists, sorted sets, sets, strings with
/// expiry, <c>MULTI</c>/<c>WATCH</c>, pub/sub; no Streams, no Lua). A queue is a list; publishing an event pushes it
/// into every queue registered in the topic's set; a consumer moves each message atomically (<c>LMOVE</c>) to its own
/// processing list and removes it from there (<c>LREM</c>) once settled. See docs/messaging.md.
/// </summary>
internal sealed partial class RedisTransport : IMessageTransport
{
    private readonly ConfigurationOptions _configuration;
    private readonly IOptions<MessagingOptions> _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private ConnectionMultiplexer? _connection;

    public RedisTransport(string connectionString, IOptions<MessagingOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        _configuration = ConfigurationOptions.Parse(connectionString);
        _configuration.AbortOnConnectFail = false;
        _configuration.ConnectTimeout = 5000;
        _configuration.AsyncTimeout = 5000;
        // Fail at once while the store is down, so callers (the outbox relay) apply their own backoff.
        _configuration.BacklogPolicy = BacklogPolicy.FailFast;
        // Reconnect soon after the store is back: from 250 ms, backing off to 5 s at most.
        _configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        // RESP2 keeps pub/sub on its own connection; Garnet does not serve commands on a subscribed one.
        _configuration.Protocol = RedisProtocol.Resp2;
        _options = options;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
    }

    public string Name => "redis";

    private string Prefix => _options.Value.Namespace;

    internal async Task<ConnectionMultiplexer> GetConnectionAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is { } connection)
        {
            return connection;
        }
        await _connectLock.WaitAsync(cancellationToken);
        try
        {
            // With AbortOnConnectFail off this returns even while the store is down, and reconnects in the background.
            return _connection ??= await ConnectionMultiplexer.ConnectAsync(_configuration);
        }
        finally
        {
            _connectLock.Release();
        }
    }

    public async Task PublishAsync(string topic, TransportMessage message, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var db = connection.GetDatabase();
        var queues = await db.SetMembersAsync(RedisKeys.Topic(Prefix, topic));
        if (queues.Length == 0)
        {
            return;
        }
        var raw = RedisWireMessage.Serialize(message);
        // One transaction: every subscribed queue gets the event, or none does and the publisher tries again.
        var transaction = db.CreateTransaction();
        var pushes = queues.Select(q => transaction.ListLeftPushAsync(new RedisKeys(Prefix, q!).Ready, raw)).ToList();
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException($"Publishing {message.Envelope.MessageType} to topic '{topic}' was not executed.");
        }
        await Task.WhenAll(pushes);
        await Task.WhenAll(queues.Select(q => connection.GetSubscriber().PublishAsync(new RedisKeys(Prefix, q!).ReadyChannel, RedisValue.EmptyString)));
    }

    public async Task SendAsync(string queue, TransportMessage message, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var keys = new RedisKeys(Prefix, queue);
        await connection.GetDatabase().ListLeftPushAsync(keys.Ready, RedisWireMessage.Serialize(message));
        await connection.GetSubscriber().PublishAsync(keys.ReadyChannel, RedisValue.EmptyString);
    }

    public async Task<IAsyncDisposable> StartConsumerAsync(ConsumerEndpoint endpoint, Func<IncomingMessage, CancellationToken, Task> onMessage, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var consumer = new RedisConsumer(connection, endpoint, Prefix, _options.Value, _timeProvider, onMessage, _loggerFactory.CreateLogger<RedisConsumer>());
        await consumer.StartAsync();
        return consumer;
    }

    public async Task<IReadOnlyList<DeadLetter>> PeekDeadLettersAsync(string queue, int count, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        // Pushed on the left: the oldest are at the right end.
        var raws = await connection.GetDatabase().ListRangeAsync(new RedisKeys(Prefix, queue).DeadLetters, -count, -1);
        return [.. raws.Reverse().Select(r => RedisWireMessage.TryParse(r!)).OfType<RedisWireMessage>()
            .Select(w => new DeadLetter(w.Envelope, w.ToTransportMessage().Body, w.Error ?? "", w.DeadLetteredAt ?? default))];
    }

    public async Task<int> ReplayDeadLettersAsync(string queue, int count, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var db = connection.GetDatabase();
        var keys = new RedisKeys(Prefix, queue);
        var replayed = 0;
        while (replayed < count)
        {
            // Oldest first; taken atomically, so two replays never move one letter twice.
            var raw = await db.ListMoveAsync(keys.DeadLetters, keys.Replaying, ListSide.Right, ListSide.Left);
            if (raw.IsNull)
            {
                break;
            }
            var wire = RedisWireMessage.TryParse(raw!);
            var transaction = db.CreateTransaction();
            _ = transaction.ListRemoveAsync(keys.Replaying, raw, 1);
            // A letter that is not a Portico message goes back where it was; it cannot be handled.
            _ = wire is null
                ? transaction.ListLeftPushAsync(keys.DeadLetters, raw)
                : transaction.ListLeftPushAsync(keys.Ready, RedisWireMessage.Serialize(new TransportMessage(wire.Envelope with { Attempt = 1 }, wire.ToTransportMessage().Body)));
            if (!await transaction.ExecuteAsync())
            {
                throw new RedisException($"Replaying a dead letter of queue '{queue}' was not executed.");
            }
            if (wire is null)
            {
                break;
            }
            replayed++;
        }
        await connection.GetSubscriber().PublishAsync(keys.ReadyChannel, RedisValue.EmptyString);
        return replayed;
    }

    /// <summary>
    /// The queue's list (waiting), its consumers' processing lists (in flight, a stopped consumer's included until it is
    /// reaped), its delayed retries and its dead letters, read in one transaction so a message settled meanwhile is
    /// counted once; consumers count while their heartbeat is fresh.
    /// </summary>
    public async Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken)
    {
        var db = (await GetConnectionAsync(cancellationToken)).GetDatabase();
        var keys = new RedisKeys(Prefix, queue);
        var consumers = await db.SetMembersAsync(keys.Consumers);
        var transaction = db.CreateTransaction();
        var waiting = transaction.ListLengthAsync(keys.Ready);
        var delayed = transaction.SortedSetLengthAsync(keys.Delayed);
        var dead = transaction.ListLengthAsync(keys.DeadLetters);
        var processing = consumers.Select(c => transaction.ListLengthAsync(keys.Processing(c!))).ToList();
        var alive = consumers.Select(c => transaction.KeyExistsAsync(keys.Alive(c!))).ToList();
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException($"Reading the depth of queue '{queue}' was not executed.");
        }
        var inFlight = 0L;
        foreach (var length in processing)
        {
            inFlight += await length;
        }
        var live = 0;
        foreach (var exists in alive)
        {
            live += await exists ? 1 : 0;
        }
        return new QueueDepth(await waiting, inFlight, await delayed, await dead, live);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            await connection.DisposeAsync();
        }
        _connectLock.Dispose();
    }
}
