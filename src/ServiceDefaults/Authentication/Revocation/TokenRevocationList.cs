using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.ServiceDefaults.Store;
using StackExchange.Redis;

namespace Portico.ServiceDefaults.Authentication.Revocation;

/// <summary>
/// A local copy of the revocation list Identity keeps in the store (<see cref="TokenRevocationStore"/>): subject →
/// "revoked before" time. <see cref="IsRevoked"/> is one dictionary lookup, so the shared validation and the gateway's
/// token cache ask it on every request. The copy follows the store two ways: each change is published on a channel and
/// applied as it arrives (milliseconds), and every <see cref="TokenRevocationOptions.RefreshInterval"/> (2 s) one
/// <c>GET</c> of the version counter tells whether any change was missed, in which case the list is read again.
/// A revocation therefore reaches every validator within the refresh interval at worst.
/// <para>
/// Entries are only added or raised locally, never dropped because the store lost them (a restarted Garnet is empty
/// until Identity writes its revocations again), and are forgotten once no token they cover can still be valid
/// (<c>MaxAccessTokenLifetime</c> + clock skew after their time): the copy is bounded by the revocations of that window.
/// </para>
/// <para>
/// While the store is unreachable the copy is kept and, by default, tokens are still accepted (fail open, see
/// <see cref="RevocationFailMode"/>): a warning is logged once and readiness reports Degraded until a check succeeds.
/// Without <c>ConnectionStrings:store</c> there is no list: a warning says so at start and nothing is refused.
/// </para>
/// </summary>
public sealed partial class TokenRevocationList : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, long> _revokedBefore = new(StringComparer.Ordinal);
    private readonly PorticoStore _store;
    private readonly TokenRevocationOptions _options;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly ILogger<TokenRevocationList> _logger;
    private readonly bool _failClosed;

    // Versions heard on the channel beyond the one last read in full; guarded by itself.
    private readonly SortedSet<long> _heard = [];
    private long _loadedVersion = -1;

    private readonly SemaphoreSlim _refreshNow = new(0, 1);
    private CancellationTokenSource? _stopping;
    private Task? _loop;
    private bool _subscribed;
    private bool _failing;
    private long _lastRefreshedTicks; // UtcDateTime ticks of the last successful check; 0 = never
    private DateTimeOffset _lastPruned;
    private int _disposed;
    private volatile bool _following; // started with a store: read once, not per request

    public TokenRevocationList(PorticoStore store, IOptions<TokenRevocationOptions> options, IOptions<JwtOptions> jwt, TimeProvider time,
        ILogger<TokenRevocationList> logger)
    {
        _store = store;
        _options = options.Value;
        _window = jwt.Value.MaxAccessTokenLifetime + jwt.Value.ClockSkew;
        _time = time;
        _logger = logger;
        _failClosed = _options.FailMode == RevocationFailMode.Closed;
    }

    /// <summary>Whether there is a store to follow (<c>ConnectionStrings:store</c>).</summary>
    public bool IsConfigured => _store.IsConfigured;

    /// <summary>Subjects with a revocation in the local copy (for tests and diagnostics).</summary>
    public int Count => _revokedBefore.Count;

    /// <summary>When the store last answered a check; null before the first.</summary>
    public DateTimeOffset? LastRefreshed => Volatile.Read(ref _lastRefreshedTicks) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>Whether no check has succeeded for <see cref="TokenRevocationOptions.StaleAfter"/> (always false without a store, or before start).</summary>
    public bool IsStale => _following && (LastRefreshed is not { } last || _time.GetUtcNow() - last > _options.StaleAfter);

    public RevocationFailMode FailMode => _options.FailMode;

    /// <summary>
    /// Whether a token of <paramref name="subject"/> issued at <paramref name="issuedAt"/> (Unix seconds, its <c>iat</c>)
    /// is revoked. Failing closed, every token is while the copy is stale.
    /// </summary>
    public bool IsRevoked(string? subject, long issuedAt)
    {
        if (_failClosed && IsStale)
        {
            return true;
        }
        return subject is not null && _revokedBefore.TryGetValue(subject, out var before) && issuedAt < before;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!IsConfigured)
        {
            if (_failClosed)
            {
                throw new InvalidOperationException(
                    $"{TokenRevocationOptions.SectionName}:FailMode is Closed, but ConnectionStrings:{PorticoStore.ConnectionName} is not set: there is no revocation list to follow.");
            }
            Log.NoStore(_logger);
            return;
        }
        _following = true;
        _stopping = new CancellationTokenSource();
        // The first read is awaited briefly, so the first requests already see the list; a store that is down
        // does not hold start-up for long (fail open), the loop goes on trying.
        using (var first = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            first.CancelAfter(TimeSpan.FromSeconds(2));
            await TryRefreshAsync(first.Token);
        }
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null || _loop is null)
        {
            return;
        }
        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        // Registered as itself and as a hosted service: disposed twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _stopping?.Cancel();
        _stopping?.Dispose();
        _refreshNow.Dispose();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Woken early by a batch message. Scheduled by the machine's clock, so a test clock that stands
                // still does not stop the checks.
                await _refreshNow.WaitAsync(_options.RefreshInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await TryRefreshAsync(stopping);
        }
    }

    /// <summary>Subscribes if not yet done, checks the version, reads the list when a change was missed; never throws.</summary>
    internal async Task TryRefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            var connection = await _store.ConnectAsync().AsTask().WaitAsync(cancellationToken);
            if (!_subscribed)
            {
                await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(TokenRevocationStore.Channel), (_, message) => OnMessage(message));
                _subscribed = true; // the multiplexer subscribes again by itself after a reconnect
            }
            await RefreshAsync(connection.GetDatabase(), cancellationToken);
            var now = _time.GetUtcNow();
            Volatile.Write(ref _lastRefreshedTicks, now.UtcTicks);
            if (_failing)
            {
                _failing = false;
                Log.Recovered(_logger);
            }
            if (now - _lastPruned > TimeSpan.FromMinutes(1))
            {
                Prune(now);
                _lastPruned = now;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (!_failing)
            {
                _failing = true;
                if (_failClosed)
                {
                    Log.UnreachableFailingClosed(_logger, e);
                }
                else
                {
                    Log.UnreachableFailingOpen(_logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RefreshAsync(IDatabase db, CancellationToken cancellationToken)
    {
        var version = (long?)await db.StringGetAsync(TokenRevocationStore.VersionKey).WaitAsync(cancellationToken) ?? 0;
        lock (_heard)
        {
            if (version == _loadedVersion)
            {
                return;
            }
            if (_loadedVersion >= 0 && version > _loadedVersion && version - _loadedVersion <= _heard.Count && HeardAll(version))
            {
                // Every change since the last read arrived on the channel and is applied already.
                _heard.RemoveWhere(v => v <= version);
                _loadedVersion = version;
                return;
            }
        }
        // Read after the version: a change written meanwhile is in the list already or raises the version again.
        var entries = await TokenRevocationStore.ReadAsync(db, _time.GetUtcNow() - _window).WaitAsync(cancellationToken);
        foreach (var (subject, revokedBefore) in entries)
        {
            Apply(subject, revokedBefore);
        }
        lock (_heard)
        {
            _heard.RemoveWhere(v => v <= version);
            _loadedVersion = version; // a store that restarted starts again from a lower version: taken as it is
        }
    }

    private bool HeardAll(long version)
    {
        for (var v = _loadedVersion + 1; v <= version; v++)
        {
            if (!_heard.Contains(v))
            {
                return false;
            }
        }
        return true;
    }

    private void OnMessage(RedisValue message)
    {
        if (!TokenRevocationStore.TryParse(message, out var version, out var revokedBefore, out var subject))
        {
            return;
        }
        if (subject == TokenRevocationStore.BatchSubject)
        {
            WakeUp(); // several entries: read the list now
            return;
        }
        Apply(subject, revokedBefore);
        lock (_heard)
        {
            if (version > _loadedVersion)
            {
                if (_heard.Count >= 10_000)
                {
                    _heard.Clear(); // bounded: the next check reads the list instead
                }
                _heard.Add(version);
            }
        }
    }

    private void WakeUp()
    {
        try
        {
            _refreshNow.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Apply(string subject, long revokedBefore) =>
        _revokedBefore.AddOrUpdate(subject, revokedBefore, (_, known) => Math.Max(known, revokedBefore));

    private void Prune(DateTimeOffset now)
    {
        var forgetBefore = (now - _window).ToUnixTimeSeconds();
        foreach (var (subject, revokedBefore) in _revokedBefore)
        {
            if (revokedBefore < forgetBefore)
            {
                _revokedBefore.TryRemove(new KeyValuePair<string, long>(subject, revokedBefore));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "ConnectionStrings:store is not set: access tokens are not checked against the revocation list, so a logout, password change or deleted account does not end an access token before it expires")]
        public static partial void NoStore(ILogger logger);

        [LoggerMessage(2, LogLevel.Warning, "The revocation list cannot be read from the store; failing open: tokens are accepted, and revocations written meanwhile are not seen until the store answers again")]
        public static partial void UnreachableFailingOpen(ILogger logger, Exception exception);

        [LoggerMessage(3, LogLevel.Error, "The revocation list cannot be read from the store; failing closed: every access token is refused until the store answers again")]
        public static partial void UnreachableFailingClosed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Information, "The revocation list is read from the store again")]
        public static partial void Recovered(ILogger logger);
    }
}
