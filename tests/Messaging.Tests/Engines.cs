using Portico.Tests.Common;

namespace Portico.Messaging.Tests;

/// <summary>
/// A broker the conformance tests run against: the embedded Garnet (started here), or a real Redis 7 or RabbitMQ that
/// scripts/test.sh starts and names in <c>PORTICO_TEST_REDIS</c> and <c>PORTICO_TEST_RABBITMQ</c>. Without its
/// variable a test fails under CI (<c>CI=true</c>), where the engine must be there, and is skipped elsewhere.
/// </summary>
public abstract class BrokerEngine : IDisposable
{
    /// <summary>The value of <c>ConnectionStrings:broker</c> that selects this engine's transport.</summary>
    public abstract string? ConnectionString { get; }

    protected abstract string MissingReason { get; }

    /// <summary>The connection string, or a failure (CI) or skip (elsewhere) saying why there is none.</summary>
    public string Require()
    {
        if (ConnectionString is { } connectionString)
        {
            return connectionString;
        }
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"{MissingReason} CI must run every transport: scripts/test.sh starts the engines and sets the variable.");
        }
        Assert.Skip($"{MissingReason} Run scripts/test.sh, or start the engine and set the variable, to include it.");
        return null!;
    }

    /// <summary>Removes what a test left on a shared broker.</summary>
    public virtual Task CleanUpAsync(TestSetup setup) => Task.CompletedTask;

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>The embedded store, as in the one-command run: Garnet in this process.</summary>
public sealed class GarnetEngine : BrokerEngine
{
    private readonly GarnetTestServer _server = GarnetTestServer.Start();

    public override string ConnectionString => _server.ConnectionString;

    protected override string MissingReason => "Garnet did not start.";

    public override void Dispose()
    {
        _server.Dispose();
        base.Dispose();
    }
}

public sealed class RedisEngine : BrokerEngine
{
    public const string Variable = "PORTICO_TEST_REDIS";

    public override string? ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } v ? v : null;

    protected override string MissingReason => $"{Variable} is not set (a Redis 7 address such as 127.0.0.1:6379).";

    public override async Task CleanUpAsync(TestSetup setup)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(setup.Broker);
        var server = redis.GetServers()[0];
        var db = redis.GetDatabase();
        await foreach (var key in server.KeysAsync(pattern: $"{setup.Namespace}:*"))
        {
            await db.KeyDeleteAsync(key);
        }
    }
}

public sealed class RabbitMqEngine : BrokerEngine
{
    public const string Variable = "PORTICO_TEST_RABBITMQ";

    public override string? ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } v ? v : null;

    protected override string MissingReason => $"{Variable} is not set (an AMQP URI such as amqp://guest:guest@127.0.0.1:5672/).";

    public override async Task CleanUpAsync(TestSetup setup)
    {
        var factory = new global::RabbitMQ.Client.ConnectionFactory { Uri = new Uri(setup.Broker) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var queue in new[] { setup.Queue, setup.WorkQueue })
        {
            foreach (var name in new[] { queue, $"{queue}.retry.1", $"{queue}.retry.2", $"{queue}.dead-letter" })
            {
                await channel.QueueDeleteAsync(name, ifUnused: false, ifEmpty: false);
            }
        }
        await channel.ExchangeDeleteAsync($"{setup.Namespace}.events");
        await channel.ExchangeDeleteAsync($"{setup.Namespace}.dead-letter");
    }
}
