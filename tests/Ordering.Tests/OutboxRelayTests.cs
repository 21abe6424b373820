using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Portico.Messaging;
using Portico.Ordering.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Ordering.Tests;

/// <summary>
/// Ordering's outbox relay on the embedded store (Garnet): a placed order's <c>OrderPlaced.v1</c> reaches a subscriber
/// in another host, and while Ordering cannot reach the store orders are still accepted and their events arrive once
/// it can again.
/// </summary>
public sealed class OutboxRelayTests : IAsyncLifetime
{
    private GarnetTestServer _store = null!;
    private TcpProxy _orderingToStore = null!;
    private OrderingFixture _ordering = null!;
    private IHost _subscriber = null!;

    public async ValueTask InitializeAsync()
    {
        _store = GarnetTestServer.Start();
        // Ordering reaches the store through a proxy the test can cut: an outage for Ordering alone, the store's data kept.
        _orderingToStore = TcpProxy.Start(_store.Port);
        _ordering = new OrderingFixture
        {
            Settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:store"] = $"127.0.0.1:{_orderingToStore.Port}",
                ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
                ["Messaging:Outbox:RetryInitialDelay"] = "00:00:00.1",
                ["Messaging:Outbox:RetryMaxDelay"] = "00:00:00.5",
            },
        };
        await _ordering.InitializeAsync();
        _subscriber = await StartSubscriberAsync(_store.ConnectionString);
    }

    [Fact]
    public async Task PlacedOrder_ItsEventReachesASubscriber()
    {
        using var client = _ordering.ClientFor(OrderingFixture.NewUserId());

        var order = await client.PlaceAsync((1, 2));

        await PollAsync(() => Received.ContainsKey(order.Id), "the OrderPlaced.v1 event of the order");
        var placed = Received[order.Id];
        Assert.Equal(order.Total, placed.Total);
        Assert.Equal(2, Assert.Single(placed.Items).Quantity);
        await PollAsync(async () => await UnpublishedAsync() == 0, "the outbox row to be marked published");
    }

    [Fact]
    public async Task BrokerUnreachable_OrdersAreAccepted_AndTheirEventsArriveWhenItIsBack()
    {
        using var client = _ordering.ClientFor(OrderingFixture.NewUserId());
        await _orderingToStore.CutAsync();

        var orders = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            orders.Add((await client.PlaceAsync((1, 1))).Id);
        }
        // Accepted, not published: the relay keeps failing and backing off.
        await PollAsync(async () => await FailedAttemptsAsync() > 0, "the relay to have tried and failed");
        Assert.DoesNotContain(orders, Received.ContainsKey);

        _orderingToStore.Open();
        await PollAsync(() => orders.All(Received.ContainsKey), "every order's event after the store is back", TimeSpan.FromSeconds(30));
        await PollAsync(async () => await UnpublishedAsync() == 0, "every outbox row to be marked published");
    }

    private ConcurrentDictionary<Guid, OrderPlaced> Received => _subscriber.Services.GetRequiredService<ConcurrentDictionary<Guid, OrderPlaced>>();

    private async Task<int> UnpublishedAsync()
    {
        await using var scope = _ordering.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<OrderingDbContext>().Outbox.CountAsync(m => m.PublishedAt == null);
    }

    private async Task<int> FailedAttemptsAsync()
    {
        await using var scope = _ordering.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<OrderingDbContext>().Outbox.SumAsync(m => m.Attempts);
    }

    private static async Task<IHost> StartSubscriberAsync(string store)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store,
            ["Messaging:Queue"] = "ordering-tests.subscriber",
            ["Messaging:VisibilityTimeout"] = "00:00:01",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        builder.Services.AddSingleton(new ConcurrentDictionary<Guid, OrderPlaced>());
        builder.AddPorticoMessaging().AddEventHandler<OrderPlaced, OrderPlacedHandler>(SubscriberJsonContext.Default.OrderPlaced);
        var host = builder.Build();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await PollAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy, "the subscriber to consume");
        return host;
    }

    private static Task PollAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        PollAsync(() => Task.FromResult(condition()), what, timeout);

    private static async Task PollAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(15)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _subscriber.StopAsync();
        _subscriber.Dispose();
        await _ordering.DisposeAsync();
        await _orderingToStore.DisposeAsync();
        _store.Dispose();
    }

    /// <summary>The subscriber's own copy of the contract: services share the wire, not the type.</summary>
    public sealed record OrderPlaced(Guid OrderId, string UserId, long Total, IReadOnlyList<OrderPlacedLine> Items) : IIntegrationMessage
    {
        public static string MessageType => "OrderPlaced.v1";
    }

    public sealed record OrderPlacedLine(int ProductId, int Quantity);

    private sealed class OrderPlacedHandler(ConcurrentDictionary<Guid, OrderPlaced> received) : IMessageHandler<OrderPlaced>
    {
        public Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
        {
            received[message.OrderId] = message;
            return Task.CompletedTask;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(OutboxRelayTests.OrderPlaced))]
internal sealed partial class SubscriberJsonContext : JsonSerializerContext;
