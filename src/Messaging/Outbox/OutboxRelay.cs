using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Messaging.Transport;

namespace Portico.Messaging.Outbox;

/// <summary>
/// Publishes the outbox rows of <typeparamref name="TContext"/> in order (created time, then id) and marks each sent
/// only after the broker confirmed it. Several instances may run against one database: a relay claims the oldest
/// unclaimed rows with a conditional update (a lease), and only the contiguous run it won is published; a relay that
/// died lets its rows go when the lease ends. A failed publish (the broker is down) puts the row off with increasing
/// delay, capped, for as long as the outage lasts; rows behind it wait, so the order holds. A row published twice
/// (a lease that ran out mid-publish) keeps its message id, which consumers' inboxes drop.
/// </summary>
internal sealed partial class OutboxRelay<TContext>(
    IServiceScopeFactory scopeFactory, IMessageTransport transport, OutboxSignal signal, IOptions<OutboxRelayOptions> options,
    IOptions<BrokerConnectionOptions> broker, MessagingMetrics metrics, TimeProvider timeProvider, ILogger<OutboxRelay<TContext>> logger) : BackgroundService
    where TContext : DbContext
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(1);
    private readonly string _relayId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private long _lastPurge;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!broker.Value.IsConfigured)
        {
            Log.NoBroker(logger, typeof(TContext).Name);
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var more = false;
            try
            {
                more = await RelayBatchAsync(stoppingToken);
                await PurgeIfDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database failed, not only the broker: look again after the interval.
                Log.BatchFailed(logger, e);
            }
            if (!more && !await signal.WaitAsync(options.Value.PollInterval, stoppingToken))
            {
                return;
            }
        }
    }

    /// <summary>Publishes one batch; true when a full batch went out and more may be waiting.</summary>
    internal async Task<bool> RelayBatchAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        await using var scope = scopeFactory.CreateAsyncScope();
        var outbox = scope.ServiceProvider.GetRequiredService<TContext>().Set<OutboxMessage>();
        var now = timeProvider.GetUtcNow();

        var head = await outbox.AsNoTracking()
            .Where(m => m.PublishedAt == null)
            .OrderBy(m => m.CreatedAt).ThenBy(m => m.Id)
            .Take(o.BatchSize)
            .Select(m => new { m.Id, m.LockedUntil, m.NextAttemptAt })
            .ToListAsync(cancellationToken);
        // Only the run at the head: a row held by another relay or put off by backoff stops the rows behind it.
        var candidates = head
            .TakeWhile(m => (m.LockedUntil is null || m.LockedUntil <= now) && (m.NextAttemptAt is null || m.NextAttemptAt <= now))
            .Select(m => m.Id)
            .ToList();
        if (candidates.Count == 0)
        {
            return false;
        }

        var until = now + o.Lease;
        // The claim re-checks the lease in its WHERE: of two relays racing for a row, one update finds it, one does not.
        await outbox
            .Where(m => candidates.Contains(m.Id) && m.PublishedAt == null && (m.LockedUntil == null || m.LockedUntil <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedBy, _relayId).SetProperty(m => m.LockedUntil, until), cancellationToken);
        var rows = await outbox.AsNoTracking()
            .Where(m => candidates.Contains(m.Id) && m.PublishedAt == null && m.LockedBy == _relayId)
            .ToListAsync(cancellationToken);
        var won = rows.ToDictionary(r => r.Id);
        var run = candidates.TakeWhile(won.ContainsKey).Select(id => won[id]).ToList();
        await ReleaseAsync(outbox, [.. won.Keys.Except(run.Select(r => r.Id))], cancellationToken);

        for (var i = 0; i < run.Count; i++)
        {
            var row = run[i];
            try
            {
                await PublishAsync(row, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                var failures = row.Attempts + 1;
                var retryAt = timeProvider.GetUtcNow() + o.RetryDelay(failures);
                var error = e.Message.Length > 2000 ? e.Message[..2000] : e.Message;
                Log.PublishFailed(logger, e, row.Type, row.Id, failures, retryAt);
                await outbox.Where(m => m.Id == row.Id && m.PublishedAt == null)
                    .ExecuteUpdateAsync(s => s
                        .SetProperty(m => m.Attempts, failures)
                        .SetProperty(m => m.NextAttemptAt, retryAt)
                        .SetProperty(m => m.LastError, error)
                        .SetProperty(m => m.LockedBy, (string?)null)
                        .SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), CancellationToken.None);
                await ReleaseAsync(outbox, [.. run.Skip(i + 1).Select(r => r.Id)], CancellationToken.None);
                return false;
            }
            var publishedAt = timeProvider.GetUtcNow();
            await outbox.Where(m => m.Id == row.Id && m.PublishedAt == null)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(m => m.PublishedAt, publishedAt)
                    .SetProperty(m => m.LockedBy, (string?)null)
                    .SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), CancellationToken.None);
            metrics.OutboxPublished(1);
        }
        if (run.Count > 0)
        {
            Log.Published(logger, run.Count);
        }
        return run.Count == o.BatchSize;
    }

    /// <summary>Deletes rows published longer than the retention ago, once a minute at most. Several relays may do this; deleting twice is harmless.</summary>
    private async Task PurgeIfDueAsync(CancellationToken cancellationToken)
    {
        if (_lastPurge != 0 && timeProvider.GetElapsedTime(_lastPurge) < PurgeInterval)
        {
            return;
        }
        _lastPurge = timeProvider.GetTimestamp();
        var before = timeProvider.GetUtcNow() - options.Value.Retention;
        await using var scope = scopeFactory.CreateAsyncScope();
        var deleted = await scope.ServiceProvider.GetRequiredService<TContext>().Set<OutboxMessage>()
            .Where(m => m.PublishedAt != null && m.PublishedAt < before)
            .ExecuteDeleteAsync(cancellationToken);
        if (deleted > 0)
        {
            Log.Purged(logger, deleted, before);
        }
    }

    private Task PublishAsync(OutboxMessage row, CancellationToken cancellationToken)
    {
        var envelope = new MessageEnvelope
        {
            MessageId = row.Id,
            MessageType = row.Type,
            SentAt = row.CreatedAt,
            CorrelationId = row.CorrelationId,
            PartitionKey = row.PartitionKey,
            AggregateId = row.AggregateId,
            AggregateSequence = row.AggregateSequence,
            TraceParent = row.TraceParent,
        };
        var message = new TransportMessage(envelope, Encoding.UTF8.GetBytes(row.Payload));
        return row.Queue is { } queue
            ? transport.SendAsync(queue, message, cancellationToken)
            : transport.PublishAsync(row.Type, message, cancellationToken);
    }

    private async Task ReleaseAsync(DbSet<OutboxMessage> outbox, List<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return;
        }
        await outbox.Where(m => ids.Contains(m.Id) && m.LockedBy == _relayId)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedBy, (string?)null).SetProperty(m => m.LockedUntil, (DateTimeOffset?)null), cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(5, LogLevel.Information, "Deleted {Count} outbox rows published before {Before}")]
        public static partial void Purged(ILogger logger, int count, DateTimeOffset before);

        [LoggerMessage(4, LogLevel.Warning, "No broker is configured (ConnectionStrings:broker or ConnectionStrings:store): the outbox of {Context} is not published")]
        public static partial void NoBroker(ILogger logger, string context);

        [LoggerMessage(1, LogLevel.Debug, "Published {Count} outbox messages")]
        public static partial void Published(ILogger logger, int count);

        [LoggerMessage(2, LogLevel.Warning, "Publishing outbox message {MessageType} {MessageId} failed ({Failures} so far); trying again at {RetryAt}")]
        public static partial void PublishFailed(ILogger logger, Exception exception, string messageType, Guid messageId, int failures, DateTimeOffset retryAt);

        [LoggerMessage(3, LogLevel.Warning, "An outbox batch failed; looking again shortly")]
        public static partial void BatchFailed(ILogger logger, Exception exception);
    }
}

/// <summary>Wakes the relay when a transaction has written outbox rows, so they need not wait for the next poll.</summary>
public sealed class OutboxSignal
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    /// <summary>Call after committing outbox rows.</summary>
    public void Notify()
    {
        try
        {
            _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    /// <summary>Waits for a notice or the timeout; false when <paramref name="cancellationToken"/> ended the wait.</summary>
    internal async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _semaphore.WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
