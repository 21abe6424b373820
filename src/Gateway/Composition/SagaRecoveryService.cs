using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;
using StackExchange.Redis;

namespace Portico.Gateway.Composition;

/// <summary><c>Portico:SagaRecovery</c> in the host settings: how often an instance looks for runs to recover, and its lease.</summary>
public sealed record SagaRecoveryOptions
{
    public const string SectionName = "Portico:SagaRecovery";

    /// <summary>Time between sweeps.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a sweeping instance holds the lease without renewing it; it renews at a third of this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a saga-log write the store does not take (a timeout, a lost connection, a transaction aborted without a
    /// conflict) is tried again before the run gives up and answers "pending". A loaded machine can hold a write past the
    /// store client's 5 s timeout; a conflict (the run taken over) is never tried again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan WriteRetryBudget { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Runs on every gateway instance; at each interval one of them — the one that gets the lease (SET NX PX, renewed
/// while it sweeps, given up after) — settles the durable composition runs whose owner went quiet.
/// </summary>
internal sealed partial class SagaRecoveryService(SagaRecovery recovery, SagaLog log, GatewayStore store, IOptions<SagaRecoveryOptions> options,
    TimeProvider time, ILogger<SagaRecoveryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!store.IsConfigured)
        {
            return;
        }
        var settings = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(settings.Interval, time, stoppingToken);
                await SweepAsync(settings.Lease, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Log.StoreUnavailable(logger, ex.Message);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The worker keeps going: a fault here must not stop the gateway (BackgroundService would).
                Log.SweepFailed(logger, ex);
            }
        }
    }

    /// <summary>One sweep under the lease; false when another instance holds it.</summary>
    internal async Task<bool> SweepAsync(TimeSpan lease, CancellationToken cancellationToken)
    {
        var owner = recovery.InstanceId;
        if (!await log.AcquireLeaseAsync(owner, lease))
        {
            return false;
        }
        using var sweeping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var held = true;
        var renewing = RenewAsync();
        try
        {
            var settled = await recovery.RecoverDueAsync(() => Volatile.Read(ref held), sweeping.Token);
            if (settled > 0)
            {
                Log.Swept(logger, settled);
            }
        }
        finally
        {
            await sweeping.CancelAsync();
            await renewing;
            await log.ReleaseLeaseAsync(owner);
        }
        return true;

        async Task RenewAsync()
        {
            try
            {
                while (true)
                {
                    await Task.Delay(lease / 3, time, sweeping.Token);
                    if (!await log.AcquireLeaseAsync(owner, lease))
                    {
                        Volatile.Write(ref held, false); // another instance has it now: stop after the run at hand
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or RedisException or TimeoutException)
            {
                // Stopped with the sweep, or the store is down (the sweep fails on its own then).
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(430, LogLevel.Information, "Saga recovery: settled {Count} run(s) in this sweep")]
        public static partial void Swept(ILogger logger, int count);

        [LoggerMessage(432, LogLevel.Error, "Saga recovery: the sweep failed; trying again at the next interval")]
        public static partial void SweepFailed(ILogger logger, Exception exception);

        [LoggerMessage(431, LogLevel.Warning, "Saga recovery: the store is unavailable, trying again at the next interval: {Reason}")]
        public static partial void StoreUnavailable(ILogger logger, string reason);
    }
}
