using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace Portico.Gateway.Store;

/// <summary>
/// The connection to the Redis-protocol store shared by gateway instances (<c>ConnectionStrings:store</c>:
/// the embedded Garnet by default, Redis in production). Commands fail fast while it is down, so callers
/// can apply their fail mode instead of queueing behind a dead connection.
/// </summary>
internal sealed class GatewayStore : IDisposable
{
    public const string ConnectionName = "store";

    private readonly Lazy<ConnectionMultiplexer> _connection;

    public GatewayStore(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionName);
        IsConfigured = !string.IsNullOrWhiteSpace(connectionString);
        _connection = new Lazy<ConnectionMultiplexer>(() =>
        {
            var options = ConfigurationOptions.Parse(connectionString ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionName} is not set."));
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 1000;
            options.AsyncTimeout = 1000;
            options.SyncTimeout = 1000;
            options.BacklogPolicy = BacklogPolicy.FailFast;
            return ConnectionMultiplexer.Connect(options);
        });
    }

    public bool IsConfigured { get; }

    public IDatabase Database => _connection.Value.GetDatabase();

    public ISubscriber Subscriber => _connection.Value.GetSubscriber();

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}
