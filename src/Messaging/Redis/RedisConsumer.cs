using Microsoft.Extensions.Logging;
using Portico.Messaging.Transport;
using StackExchange.Redis;

namespace Portico.Messaging.Redis;

/// <summary>
/// One consumer of one queue. Its workers move messages atomically from the queue to this consumer's processing list
/// (<c>LMOVE</c>), woken by a pub/sub notice or, should one be missed, by polling. A heartbeat key with an expiry says
/// the consumer is alive; any consumer of the queue that finds another's heartbeat expired moves that one's processing
/// list back to the queue (the visibility timeout). Due retries are moved from the delayed set back to the queue under
/// <c>WATCH</c>, so two consumers never move one retry twice.
/// </summary>
internal sealed partial class RedisConsumer : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _connection;
    private readonly IDatabase _db;
    private readonly ConsumerEndpoint _endpoint;
    private readonly string _prefix;
    private readonly MessagingOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly Func<IncomingMessage, CancellationToken, Task> _onMessage;
    private readonly ILogger _logger;
    private readonly RedisKeys _keys;
    private readonly string _consumerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private readonly RedisKey _processing;
    private readonly SemaphoreSlim _wakeUp = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];

    public RedisConsumer(
        ConnectionMultiplexer connection, ConsumerEndpoint endpoint, string prefix, MessagingOptions options, TimeProvider timeProvider,
        Func<IncomingMessage, CancellationToken, Task> onMessage, ILogger logger)
    {
        _connection = connection;
        _db = connection.GetDatabase();
        _endpoint = endpoint;
        _prefix = prefix;
        _options = options;
        _timeProvider = timeProvider;
        _onMessage = onMessage;
        _logger = logger;
        _keys = new RedisKeys(prefix, endpoint.Queue);
        _processing = _keys.Processing(_consumerId);
    }

    public async Task StartAsync()
    {
        await HeartbeatAsync();
        await _connection.GetSubscriber().SubscribeAsync(_keys.ReadyChannel, (_, _) => _wakeUp.Release());
        var token = _stopping.Token;
        for (var i = 0; i < _endpoint.Concurrency; i++)
        {
            _loops.Add(Task.Run(() => WorkAsync(token), CancellationToken.None));
        }
        _loops.Add(Task.Run(() => MaintainAsync(token), CancellationToken.None));
    }

    /// <summary>Also re-registers the subscriptions: a store restarted empty gets them back within a heartbeat.</summary>
    private async Task HeartbeatAsync()
    {
        foreach (var topic in _endpoint.Topics)
        {
            await _db.SetAddAsync(RedisKeys.Topic(_prefix, topic), _endpoint.Queue);
        }
        await _db.SetAddAsync(_keys.Consumers, _consumerId);
        await _db.StringSetAsync(_keys.Alive(_consumerId), 1, _options.VisibilityTimeout);
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            RedisValue raw;
            try
            {
                raw = await _db.ListMoveAsync(_keys.Ready, _processing, ListSide.Right, ListSide.Left);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                Log.StoreError(_logger, e, _endpoint.Queue);
                await WaitAsync(stoppingToken);
                continue;
            }
            if (raw.IsNull)
            {
                await WaitAsync(stoppingToken);
                continue;
            }
            await HandleAsync(raw!, stoppingToken);
        }
    }

    private async Task HandleAsync(string raw, CancellationToken stoppingToken)
    {
        var wire = RedisWireMessage.TryParse(raw);
        try
        {
            if (wire is null)
            {
                Log.Unreadable(_logger, _endpoint.Queue);
                await SettleAsync(raw, t => t.ListLeftPushAsync(_keys.DeadLetters, raw));
                return;
            }
            await _onMessage(new Incoming(this, raw, wire.ToTransportMessage()), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Left in the processing list: another consumer takes it back once this one's heartbeat has expired.
        }
        catch (Exception e)
        {
            // Settling failed (the store went away): hand the message back rather than hold it while alive.
            Log.SettleFailed(_logger, e, _endpoint.Queue);
            await ReleaseAsync(raw, stoppingToken);
        }
    }

    private async Task ReleaseAsync(string raw, CancellationToken stoppingToken)
    {
        for (var attempt = 0; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                await SettleAsync(raw, t => t.ListRightPushAsync(_keys.Ready, raw));
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * (attempt + 1), 5000)), _timeProvider, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Removes one delivery from the processing list and does <paramref name="also"/> in the same transaction.</summary>
    private async Task SettleAsync(string raw, Func<ITransaction, Task>? also)
    {
        var transaction = _db.CreateTransaction();
        var work = new List<Task>();
        if (also is not null)
        {
            work.Add(also(transaction));
        }
        work.Add(transaction.ListRemoveAsync(_processing, raw, 1));
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException($"Settling a message of queue '{_endpoint.Queue}' was not executed.");
        }
        await Task.WhenAll(work);
    }

    private async Task WaitAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _wakeUp.WaitAsync(_options.PollInterval, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Heartbeat, due retries back to the queue, and dead consumers' messages back to the queue.</summary>
    private async Task MaintainAsync(CancellationToken stoppingToken)
    {
        var lastHeartbeat = _timeProvider.GetTimestamp();
        var lastReap = 0L;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_timeProvider.GetElapsedTime(lastHeartbeat) >= _options.VisibilityTimeout / 3)
                {
                    await HeartbeatAsync();
                    lastHeartbeat = _timeProvider.GetTimestamp();
                }
                if (await PromoteDueRetriesAsync() > 0)
                {
                    _wakeUp.Release(_endpoint.Concurrency);
                }
                if (lastReap == 0 || _timeProvider.GetElapsedTime(lastReap) >= _options.VisibilityTimeout / 2)
                {
                    if (await ReapDeadConsumersAsync() > 0)
                    {
                        _wakeUp.Release(_endpoint.Concurrency);
                    }
                    lastReap = _timeProvider.GetTimestamp();
                }
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                Log.StoreError(_logger, e, _endpoint.Queue);
            }
            try
            {
                await Task.Delay(Min(_options.PollInterval, _options.VisibilityTimeout / 3), _timeProvider, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private async Task<int> PromoteDueRetriesAsync()
    {
        var now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var due = await _db.SortedSetRangeByScoreAsync(_keys.Delayed, double.NegativeInfinity, now, take: 100);
        var moved = 0;
        foreach (var member in due)
        {
            // WATCH-guarded: only the consumer whose transaction still finds the member moves it.
            var transaction = _db.CreateTransaction();
            transaction.AddCondition(Condition.SortedSetContains(_keys.Delayed, member));
            _ = transaction.SortedSetRemoveAsync(_keys.Delayed, member);
            _ = transaction.ListRightPushAsync(_keys.Ready, member);
            if (await transaction.ExecuteAsync())
            {
                moved++;
            }
        }
        return moved;
    }

    private async Task<int> ReapDeadConsumersAsync()
    {
        var moved = 0;
        foreach (var member in await _db.SetMembersAsync(_keys.Consumers))
        {
            var other = (string)member!;
            if (other == _consumerId || await _db.KeyExistsAsync(_keys.Alive(other)))
            {
                continue;
            }
            var processing = _keys.Processing(other);
            // Oldest first, each to the front of the queue: they were taken before anything still waiting.
            while (!(await _db.ListMoveAsync(processing, _keys.Ready, ListSide.Right, ListSide.Right)).IsNull)
            {
                moved++;
            }
            await _db.SetRemoveAsync(_keys.Consumers, other);
            Log.Reaped(_logger, other, _endpoint.Queue, moved);
        }
        return moved;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _connection.GetSubscriber().UnsubscribeAsync(_keys.ReadyChannel).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (ObjectDisposedException)
        {
            // The connection went first (it throws before returning a task): nothing is left to unsubscribe from.
        }
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    private sealed class Incoming(RedisConsumer consumer, string raw, TransportMessage message) : IncomingMessage(message)
    {
        public override Task CompleteAsync(CancellationToken cancellationToken) => consumer.SettleAsync(raw, null);

        public override Task RetryAsync(TimeSpan delay, string error, CancellationToken cancellationToken)
        {
            var next = new TransportMessage(Envelope with { Attempt = Envelope.Attempt + 1 }, Body);
            var due = consumer._timeProvider.GetUtcNow().Add(delay).ToUnixTimeMilliseconds();
            return consumer.SettleAsync(raw, t => t.SortedSetAddAsync(consumer._keys.Delayed, RedisWireMessage.Serialize(next), due));
        }

        public override Task DeadLetterAsync(string error, CancellationToken cancellationToken)
        {
            var dead = RedisWireMessage.Serialize(new TransportMessage(Envelope, Body), error, consumer._timeProvider.GetUtcNow());
            return consumer.SettleAsync(raw, t => t.ListLeftPushAsync(consumer._keys.DeadLetters, dead));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The store failed while consuming queue {Queue}; trying again")]
        public static partial void StoreError(ILogger logger, Exception exception, string queue);

        [LoggerMessage(2, LogLevel.Error, "A message of queue {Queue} is not a Portico message; dead-lettered as it is")]
        public static partial void Unreadable(ILogger logger, string queue);

        [LoggerMessage(3, LogLevel.Warning, "Settling a message of queue {Queue} failed; handing it back to the queue")]
        public static partial void SettleFailed(ILogger logger, Exception exception, string queue);

        [LoggerMessage(4, LogLevel.Warning, "Consumer {ConsumerId} of queue {Queue} missed its heartbeat; {Count} unacknowledged messages back in the queue")]
        public static partial void Reaped(ILogger logger, string consumerId, string queue, int count);
    }
}
