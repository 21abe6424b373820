using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Portico.Identity.Infrastructure;
using Portico.ServiceDefaults.Authentication.Revocation;
using Portico.ServiceDefaults.Store;

namespace Portico.Identity.Revocation;

/// <summary>
/// Writes revocations to the store (<c>ConnectionStrings:store</c>) in the shape every validator reads
/// (<see cref="TokenRevocationStore"/>): each one as it is saved, and every <c>Identity:Revocation:ResyncInterval</c>
/// (30 s) the live rows of the database that the store lacks — after the store was unreachable, or restarted empty (the
/// embedded Garnet keeps nothing on disk). A write that fails is logged, never thrown at the request that caused it: the
/// logout or password change stands, the database has the revocation, and the next resync delivers it.
/// </summary>
internal sealed partial class RevocationPublisher(
    PorticoStore store,
    IServiceScopeFactory scopeFactory,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<RevocationPublisher> logger) : BackgroundService, IHealthCheck
{
    public const string HealthCheckName = "token-revocation-publishing";

    private volatile bool _failing;
    private readonly SemaphoreSlim _resyncNow = new(0, 1);

    /// <summary>How long an entry stays in the store and in the database: the longest a token issued before it lives.</summary>
    public TimeSpan EntryLifetime => TokenRevocations.EntryLifetime(options.Value);

    public async Task PublishAsync(string subject, DateTimeOffset revokedBefore)
    {
        if (!store.IsConfigured)
        {
            return;
        }
        try
        {
            var connection = await store.ConnectAsync();
            await TokenRevocationStore.WriteAsync(connection, [(subject, revokedBefore)], timeProvider.GetUtcNow(), EntryLifetime);
            _failing = false;
        }
        catch (Exception e)
        {
            _failing = true;
            Log.WriteFailed(logger, subject, e);
            try
            {
                _resyncNow.Release(); // try again soon rather than at the next interval
            }
            catch (Exception release) when (release is SemaphoreFullException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Writes the database's live revocations that the store lacks (or has with an earlier time); returns how many.</summary>
    internal async Task<int> ResyncAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        List<(string Subject, DateTimeOffset RevokedBefore)> rows;
        await using (var scope = scopeFactory.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
            rows = (await db.TokenRevocations.AsNoTracking().Where(r => r.ExpiresAt > now).Select(r => new { r.Subject, r.RevokedBefore }).ToListAsync(cancellationToken))
                .Select(r => (r.Subject, r.RevokedBefore)).ToList();
        }
        if (rows.Count == 0)
        {
            return 0;
        }
        var connection = await store.ConnectAsync();
        var inStore = await TokenRevocationStore.ReadAsync(connection.GetDatabase(), now - EntryLifetime);
        var missing = rows.Where(r => !inStore.TryGetValue(r.Subject, out var known) || known < r.RevokedBefore.ToUnixTimeSeconds()).ToList();
        if (missing.Count > 0)
        {
            await TokenRevocationStore.WriteAsync(connection, missing, now, EntryLifetime);
            Log.Resynced(logger, missing.Count);
        }
        return missing.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!store.IsConfigured)
        {
            Log.NoStore(logger);
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ResyncAsync(stoppingToken);
                if (_failing)
                {
                    Log.Recovered(logger);
                }
                _failing = false;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (!_failing)
                {
                    Log.ResyncFailed(logger, e);
                }
                _failing = true;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                // By the machine's clock: a test clock that stands still must not stop the resync.
                await _resyncNow.WaitAsync(_failing ? TimeSpan.FromSeconds(1) : options.Value.Revocation.ResyncInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Degraded while revocations cannot be written to the store: logins go on, but the services do not hear of them.</summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!store.IsConfigured
            ? HealthCheckResult.Healthy("No store configured: revocations stay in Identity's database.")
            : _failing
                ? HealthCheckResult.Degraded("Revocations cannot be written to the store; they are written again when it answers.")
                : HealthCheckResult.Healthy());

    public override void Dispose()
    {
        _resyncNow.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "ConnectionStrings:store is not set: revocations (logout, password change, deleted accounts) reach no other service, which accept access tokens until they expire")]
        public static partial void NoStore(ILogger logger);

        [LoggerMessage(2, LogLevel.Warning, "The revocation of subject {Subject} could not be written to the store; it is in the database and is written again when the store answers")]
        public static partial void WriteFailed(ILogger logger, string subject, Exception exception);

        [LoggerMessage(3, LogLevel.Warning, "Revocations could not be compared with the store; trying again every second")]
        public static partial void ResyncFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Information, "Wrote {Count} revocations the store lacked")]
        public static partial void Resynced(ILogger logger, int count);

        [LoggerMessage(5, LogLevel.Information, "Revocations are written to the store again")]
        public static partial void Recovered(ILogger logger);
    }
}
