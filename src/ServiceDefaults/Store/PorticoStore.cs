using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace Portico.ServiceDefaults.Store;

/// <summary>
/// A connection to the Redis-protocol store (<c>ConnectionStrings:store</c>: the embedded Garnet, or Redis 7) for what
/// ServiceDefaults keeps there: the token revocation list. The connection string is read when first needed, so test hosts
/// can set it late; without one, <see cref="IsConfigured"/> is false and nothing connects. Once connected, commands fail
/// fast while the store is down (no backlog), so callers apply their fail mode at once; the multiplexer reconnects in the
/// background and re-subscribes its channels.
/// </summary>
public sealed class PorticoStore(IConfiguration configuration) : IDisposable
{
    public const string ConnectionName = "store";

    private readonly SemaphoreSlim _connect = new(1, 1);
    private ConnectionMultiplexer? _connection;
    private bool _disposed;

    /// <summary>Whether <c>ConnectionStrings:store</c> is set.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(configuration.GetConnectionString(ConnectionName));

    /// <summary>The connection, made on first use. Returns even while the store is down (it keeps trying behind).</summary>
    public async ValueTask<ConnectionMultiplexer> ConnectAsync()
    {
        if (Volatile.Read(ref _connection) is { } connection)
        {
            return connection;
        }
        await _connect.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is null)
            {
                var connectionString = configuration.GetConnectionString(ConnectionName);
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw new InvalidOperationException($"ConnectionStrings:{ConnectionName} is not set.");
                }
                var options = ConfigurationOptions.Parse(connectionString);
                options.AbortOnConnectFail = false;
                options.ConnectTimeout = 5000;
                options.AsyncTimeout = 5000;
                options.SyncTimeout = 5000;
                options.BacklogPolicy = BacklogPolicy.FailFast;
                // Back within seconds once the store is: a stale revocation list is a security signal, not a cache miss.
                options.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
                // RESP2 keeps pub/sub on a connection of its own; Garnet serves no commands on a subscribed one.
                options.Protocol = RedisProtocol.Resp2;
                Volatile.Write(ref _connection, await ConnectionMultiplexer.ConnectAsync(options));
            }
            return _connection!;
        }
        finally
        {
            _connect.Release();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _connection?.Dispose();
    }
}
