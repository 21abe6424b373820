using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Messaging.Transport;

namespace Portico.Messaging.Tests;

/// <summary>A service process as far as messaging goes: a generic host with Portico.Messaging, the test handlers, and a SQLite database.</summary>
public sealed class MessagingTestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private MessagingTestHost(IHost host) => _host = host;

    public IMessageBus Bus => _host.Services.GetRequiredService<IMessageBus>();

    public IServiceProvider Services => _host.Services;

    public IMessageTransport Transport => _host.Services.GetRequiredService<IMessageTransport>();

    public static async Task<MessagingTestHost> StartAsync(TestSetup setup, Probe probe, TestHostRole? role = null)
    {
        role ??= new TestHostRole();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Development" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:broker"] = role.Broker ?? setup.Broker,
            ["Messaging:Queue"] = setup.Queue,
            ["Messaging:Namespace"] = setup.Namespace,
            ["Messaging:MaxAttempts"] = "3",
            ["Messaging:RetryInitialDelay"] = "00:00:00.2",
            ["Messaging:Concurrency"] = role.Concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Short, so a stopped consumer's messages come back within the test; not so short that a busy CI machine
            // delays a live consumer's heartbeat past it.
            ["Messaging:VisibilityTimeout"] = "00:00:03",
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
            ["Messaging:Outbox:RetryInitialDelay"] = "00:00:00.1",
            ["Messaging:Outbox:RetryMaxDelay"] = "00:00:00.5",
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is not null)
        {
            builder.Logging.AddConsole();
        }
        builder.Services.AddSingleton(probe);
        if (role.Time is not null)
        {
            builder.Services.AddSingleton(role.Time);
        }
        builder.Services.AddDbContext<TestDb>(o => o.UseSqlite($"Data Source={setup.DatabasePath}"));
        var messaging = builder.AddPorticoMessaging().AddMessage(TestJsonContext.Default.Ping);
        if (role.Consume)
        {
            messaging.AddEventHandler<Ping, PingHandler>(TestJsonContext.Default.Ping)
                .AddCommandHandler<Work, WorkHandler>(TestJsonContext.Default.Work, setup.WorkQueue);
        }
        if (role.Relay)
        {
            messaging.AddOutboxRelay<TestDb>();
        }
        var host = builder.Build();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<TestDb>().Database.EnsureCreatedAsync();
        }
        await host.StartAsync();
        var result = new MessagingTestHost(host);
        await Eventually.TrueAsync(result.IsConsumingAsync, "the host's consumers started");
        return result;
    }

    private async Task<bool> IsConsumingAsync() =>
        (await _host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status == HealthStatus.Healthy;

    public async Task<int> EffectsOfAsync(int number)
    {
        await using var scope = _host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TestDb>().Effects.CountAsync(e => e.Number == number);
    }

    public Task StopAsync() => _host.StopAsync();

    /// <summary>Writes outbox rows for <paramref name="pings"/> in one transaction, a millisecond apart in creation order.</summary>
    public async Task<List<Guid>> AddToOutboxAsync(IEnumerable<Ping> pings)
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TestDb>();
        var start = TimeProvider.System.GetUtcNow();
        var rows = pings.Select((p, i) => Outbox.OutboxMessage.Create(p, TestJsonContext.Default.Ping, start.AddMilliseconds(i))).ToList();
        db.AddRange(rows);
        await db.SaveChangesAsync();
        return [.. rows.Select(r => r.Id)];
    }

    /// <summary>Writes one outbox row for <paramref name="ping"/> with the given properties.</summary>
    public async Task AddToOutboxAsync(Ping ping, MessageProperties properties)
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TestDb>();
        db.Add(Outbox.OutboxMessage.Create(ping, TestJsonContext.Default.Ping, TimeProvider.System.GetUtcNow(), properties));
        await db.SaveChangesAsync();
    }

    public async Task<List<Outbox.OutboxMessage>> OutboxAsync()
    {
        await using var scope = _host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TestDb>().Set<Outbox.OutboxMessage>().AsNoTracking().ToListAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>What a test host does: consume the test queues, run an outbox relay, reach the broker at another address (a proxy).</summary>
public sealed record TestHostRole(bool Consume = true, bool Relay = false, string? Broker = null, int Concurrency = 8, TimeProvider? Time = null);

/// <summary>Names that keep one test apart from every other on a shared broker.</summary>
public sealed record TestSetup(string Broker, string Namespace, string Queue, string WorkQueue, string DatabasePath)
{
    public static TestSetup New(string broker)
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        return new TestSetup(broker, $"test-{id}", $"test-{id}.pings", $"test-{id}.work", Path.Combine(Path.GetTempPath(), $"portico-messaging-{id}.db"));
    }
}

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds, failing with <paramref name="what"/> after the deadline.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!await condition())
        {
            if (TimeProvider.System.GetTimestamp() > deadline)
            {
                Assert.Fail($"Timed out waiting for {what}.");
            }
            await Task.Delay(25);
        }
    }

    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        TrueAsync(() => Task.FromResult(condition()), what, timeout);
}

/// <summary>The port in a broker address, and the same address on another port (a proxy's).</summary>
public static class BrokerAddress
{
    public static int PortOf(string broker) =>
        broker.Contains("://", StringComparison.Ordinal) ? new Uri(broker).Port : int.Parse(broker[(broker.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    public static string WithPort(string broker, int port) =>
        broker.Contains("://", StringComparison.Ordinal)
            ? new UriBuilder(broker) { Port = port }.Uri.ToString()
            : $"{broker[..broker.LastIndexOf(':')]}:{port}";
}
