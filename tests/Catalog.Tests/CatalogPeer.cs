using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Portico.Catalog.Infrastructure;
using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>
/// A real Catalog on its own embedded store, and a peer process on the same store that plays Ordering (publishes
/// <c>OrderPlaced</c>/<c>OrderCancelled</c> with message ids of its choosing) and listens for what Catalog publishes
/// (<c>StockRejected</c>, <c>ProductChanged</c>). Catalog handles one message at a time here, so a message published
/// after others is handled after them.
/// </summary>
public sealed class CatalogPeer : IAsyncDisposable
{
    private readonly GarnetTestServer _store;
    private readonly IHost _peer;
    private readonly ServiceTestDatabase _database;

    private CatalogPeer(GarnetTestServer store, CatalogApp catalog, IHost peer, ServiceTestDatabase database)
    {
        _store = store;
        Catalog = catalog;
        _peer = peer;
        _database = database;
    }

    public CatalogApp Catalog { get; }

    public ConcurrentDictionary<Guid, StockRejected> Rejected => _peer.Services.GetRequiredService<ConcurrentDictionary<Guid, StockRejected>>();

    public ConcurrentQueue<ProductChanged> ProductChanges => _peer.Services.GetRequiredService<ConcurrentQueue<ProductChanged>>();

    private IMessageBus Bus => _peer.Services.GetRequiredService<IMessageBus>();

    /// <param name="engine">The engine of Catalog's database.</param>
    public static async Task<CatalogPeer> StartAsync(IReadOnlyDictionary<string, string?>? catalogSettings = null, DatabaseEngine engine = DatabaseEngine.Sqlite)
    {
        // The database first: where PostgreSQL is not configured this skips before anything has started.
        var database = await ServiceTestDatabase.CreateAsync(engine, "catalog");
        var store = GarnetTestServer.Start();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store.ConnectionString,
            ["Messaging:Concurrency"] = "1",
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:RetryInitialDelay"] = "00:00:00.1",
            ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
        };
        foreach (var (key, value) in catalogSettings ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        var catalog = CatalogApp.On(database, settings);
        _ = catalog.Address;

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store.ConnectionString,
            ["Messaging:Queue"] = "catalog-tests.peer",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        builder.Services.AddSingleton(new ConcurrentDictionary<Guid, StockRejected>());
        builder.Services.AddSingleton(new ConcurrentQueue<ProductChanged>());
        builder.AddPorticoMessaging()
            .AddMessage(EventsJsonContext.Default.OrderPlaced)
            .AddMessage(EventsJsonContext.Default.OrderCancelled)
            .AddEventHandler<StockRejected, RejectedHandler>(EventsJsonContext.Default.StockRejected)
            .AddEventHandler<ProductChanged, ProductChangedHandler>(EventsJsonContext.Default.ProductChanged);
        var peer = builder.Build();
        await peer.StartAsync();

        var result = new CatalogPeer(store, catalog, peer, database);
        // Both consume (their topics are subscribed) before anything is published: an event with no subscriber is dropped.
        await Poll.UntilAsync(() => IsHealthyAsync(catalog.Services), "Catalog to consume its queue");
        await Poll.UntilAsync(() => IsHealthyAsync(peer.Services), "the peer to consume its queue");
        return result;
    }

    public Task PublishAsync<T>(T message, Guid messageId) where T : IIntegrationMessage =>
        Bus.PublishAsync(message, new MessageProperties { MessageId = messageId }, TestContext.Current.CancellationToken);

    public static OrderPlaced Placed(Guid orderId, params (int ProductId, int Quantity)[] lines) =>
        new(orderId, "user-1", 1000, [.. lines.Select(l => new OrderPlacedLine(l.ProductId, l.Quantity, 1000))], DateTimeOffset.UtcNow);

    public static OrderCancelled Cancelled(Guid orderId) => new(orderId, "user-1", 1000, DateTimeOffset.UtcNow);

    public async Task<int> StockOfAsync(int productId)
    {
        await using var scope = Catalog.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogDbContext>().Products.Where(p => p.Id == productId).Select(p => p.Stock).SingleAsync();
    }

    /// <summary>Whether Catalog has handled (committed, or ignored as a repeat) the message: its inbox has it.</summary>
    public async Task<bool> HandledAsync(Guid messageId)
    {
        await using var scope = Catalog.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogDbContext>().Set<Portico.Messaging.Inbox.InboxMessage>().AnyAsync(m => m.MessageId == messageId);
    }

    /// <summary>Publishes a placement of another order and waits until Catalog handled it: everything published before has been handled too.</summary>
    public async Task DrainAsync()
    {
        var sentinel = Guid.NewGuid();
        await PublishAsync(Placed(Guid.NewGuid(), (1, 1)), sentinel);
        await Poll.UntilAsync(() => HandledAsync(sentinel), "Catalog to reach the sentinel message");
    }

    private static async Task<bool> IsHealthyAsync(IServiceProvider services) =>
        (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status == HealthStatus.Healthy;

    public async ValueTask DisposeAsync()
    {
        await _peer.StopAsync();
        _peer.Dispose();
        await Catalog.DisposeAsync();
        await _database.DisposeAsync();
        _store.Dispose();
    }

    private sealed class RejectedHandler(ConcurrentDictionary<Guid, StockRejected> rejected) : IMessageHandler<StockRejected>
    {
        public Task HandleAsync(StockRejected message, MessageContext context, CancellationToken cancellationToken)
        {
            rejected[message.OrderId] = message;
            return Task.CompletedTask;
        }
    }

    private sealed class ProductChangedHandler(ConcurrentQueue<ProductChanged> changes) : IMessageHandler<ProductChanged>
    {
        public Task HandleAsync(ProductChanged message, MessageContext context, CancellationToken cancellationToken)
        {
            changes.Enqueue(message);
            return Task.CompletedTask;
        }
    }
}

/// <summary>Waits for an asynchronous effect by polling, with a deadline; never a fixed sleep.</summary>
public static class Poll
{
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout);

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
