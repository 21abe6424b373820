using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Messaging.Transport;

namespace Portico.Messaging;

/// <summary>
/// Starts one consumer per queue that has handlers. A broker that is down at start-up does not stop the service: each
/// consumer keeps trying to start, with increasing delay, until it can.
/// </summary>
internal sealed partial class MessageConsumerService(
    IMessageTransport transport, MessageTypeRegistry registry, MessageDispatcher dispatcher, IOptions<MessagingOptions> options,
    TimeProvider timeProvider, ILogger<MessageConsumerService> logger) : BackgroundService
{
    private readonly List<IAsyncDisposable> _consumers = [];
    private readonly HashSet<string> _started = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Queues with handlers whose consumer has not started yet.</summary>
    public IReadOnlyList<string> QueuesNotStarted
    {
        get
        {
            lock (_lock)
            {
                return [.. registry.Queues.Where(q => !_started.Contains(q))];
            }
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(registry.Queues.Select(queue => StartWithRetryAsync(queue, stoppingToken)));

    private async Task StartWithRetryAsync(string queue, CancellationToken stoppingToken)
    {
        var o = options.Value;
        var endpoint = new ConsumerEndpoint(queue, registry.TopicsOf(queue), o.Concurrency, o.MaxAttempts);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var consumer = await transport.StartConsumerAsync(endpoint, (message, ct) => dispatcher.DispatchAsync(queue, message, ct), stoppingToken);
                lock (_lock)
                {
                    _consumers.Add(consumer);
                    _started.Add(queue);
                }
                Log.Started(logger, queue, transport.Name, endpoint.Topics.Count);
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(200 * Math.Pow(2, Math.Min(attempt, 10)), 30_000));
                Log.StartFailed(logger, e, queue, delay);
                await Task.Delay(delay, timeProvider, stoppingToken);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        IAsyncDisposable[] consumers;
        lock (_lock)
        {
            consumers = [.. _consumers];
            _consumers.Clear();
            _started.Clear();
        }
        foreach (var consumer in consumers)
        {
            await consumer.DisposeAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Consuming queue {Queue} on {Transport}, subscribed to {TopicCount} topics")]
        public static partial void Started(ILogger logger, string queue, string transport, int topicCount);

        [LoggerMessage(2, LogLevel.Warning, "Could not start consuming queue {Queue}; trying again in {Delay}")]
        public static partial void StartFailed(ILogger logger, Exception exception, string queue, TimeSpan delay);
    }
}
