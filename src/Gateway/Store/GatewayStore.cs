using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Portico.Gateway.Store;

/// <summary>
/// The connection to the Redis-protocol store shared by gateway instances (<c>ConnectionStrings:store</c>:
/// the embedded Garnet by default, Redis in production). It connects while the gateway starts, so the first
/// requests find it ready; once connected, commands fail fast while the store is down, so callers apply their
/// fail mode at once instead of queueing behind a dead connection.
/// </summary>
internal sealed class GatewayStore : IHostedService, IDisposable
{
    public const string ConnectionName = "store";

    private readonly ConfigurationOptions? _options;
    private readonly Lock _lock = new();
    private ConnectionMultiplexer? _connection;

    public GatewayStore(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return;
        }
        _options = ConfigurationOptions.Parse(connectionString);
        _options.AbortOnConnectFail = false;
        _options.ConnectTimeout = 5000;
        _options.AsyncTimeout = 5000;
        _options.SyncTimeout = 5000;
        _options.BacklogPolicy = BacklogPolicy.FailFast;
        // RESP2 keeps pub/sub on its own connection; Garnet does not serve commands on a subscribed one.
        _options.Protocol = RedisProtocol.Resp2;
    }

    public bool IsConfigured => _options is not null;

    public IDatabase Database => Connection.GetDatabase();

    public ISubscriber Subscriber => Connection.GetSubscriber();

    private ConnectionMultiplexer Connection
    {
        get
        {
            if (Volatile.Read(ref _connection) is { } connection)
            {
                return connection;
            }
            lock (_lock)
            {
                return _connection ??= ConnectionMultiplexer.Connect(_options ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionName} is not set."));
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options is null || Volatile.Read(ref _connection) is not null)
        {
            return;
        }
        // With AbortOnConnectFail off this returns after the first attempt even when the store is down,
        // and the multiplexer keeps reconnecting in the background.
        var connection = await ConnectionMultiplexer.ConnectAsync(_options);
        lock (_lock)
        {
            if (_connection is null)
            {
                _connection = connection;
                return;
            }
        }
        await connection.DisposeAsync();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _connection?.Dispose();
}
