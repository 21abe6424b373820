extern alias CatalogService;

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Portico.Ordering.Infrastructure;
using Portico.Tests.Common;
using CatalogDbContext = CatalogService::Portico.Catalog.Infrastructure.CatalogDbContext;

namespace Portico.Ordering.Tests;

/// <summary>
/// The choreographed stock saga between the real Ordering and the real Catalog over the embedded store: an order is
/// always accepted; Catalog takes its stock, or rejects it and Ordering cancels it (out-of-stock); a cancel puts the
/// stock back; and orders taken while Ordering cannot reach the broker all arrive, with the stock exactly right.
/// </summary>
public abstract class StockSagaTests(StockSagaTests.Fixture fixture)
{
    private readonly OrderingFixture _shop = fixture.Shop;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Ordering reaches the store through a proxy the test can cut; Catalog reaches it directly.</summary>
    public class Fixture : IAsyncLifetime
    {
        private static readonly Dictionary<string, string?> FastMessaging = new()
        {
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:RetryInitialDelay"] = "00:00:00.1",
            ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
            ["Messaging:Outbox:RetryInitialDelay"] = "00:00:00.1",
            ["Messaging:Outbox:RetryMaxDelay"] = "00:00:00.5",
        };

        private GarnetTestServer _store = null!;

        public TcpProxy OrderingToStore { get; private set; } = null!;

        public OrderingFixture Shop { get; private set; } = null!;

        protected virtual DatabaseEngine Engine => DatabaseEngine.Sqlite;

        public async ValueTask InitializeAsync()
        {
            if (!ServiceTestDatabase.IsAvailable(Engine))
            {
                return; // PostgreSQL is not configured: nothing starts, and the tests skip (PostgresTestDatabase.Required).
            }
            _store = GarnetTestServer.Start();
            OrderingToStore = TcpProxy.Start(_store.Port);
            Shop = new OrderingFixture
            {
                Engine = Engine,
                StoreConnectionString = _store.ConnectionString,
                CatalogSettings = FastMessaging,
                Settings = new Dictionary<string, string?>(FastMessaging) { ["ConnectionStrings:store"] = $"127.0.0.1:{OrderingToStore.Port}" },
            };
            await Shop.InitializeAsync();
            // Both consume (their topics are subscribed) before any order is placed: an event with no subscriber is dropped.
            await Poll.UntilAsync(() => IsHealthyAsync(Shop.App.Services), "Ordering to consume");
            await Poll.UntilAsync(() => IsHealthyAsync(Shop.CatalogServices!), "Catalog to consume");
        }

        public async ValueTask DisposeAsync()
        {
            if (Shop is null)
            {
                return;
            }
            await Shop.DisposeAsync();
            await OrderingToStore.DisposeAsync();
            _store.Dispose();
        }

        private static async Task<bool> IsHealthyAsync(IServiceProvider services) =>
            (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status == HealthStatus.Healthy;
    }

    /// <summary>The same with Ordering's and Catalog's databases on PostgreSQL.</summary>
    public sealed class PostgresFixture : Fixture
    {
        protected override DatabaseEngine Engine => DatabaseEngine.Postgres;
    }

    [Fact]
    public async Task OrderForMoreThanTheStock_IsAccepted_ThenCancelledOutOfStock_AndNoStockMoves()
    {
        using var client = _shop.ClientFor(OrderingFixture.NewUserId());
        var (desks, lamps) = (await StockAsync(22), await StockAsync(20));

        var order = await client.PlaceAsync((20, 1), (22, desks + 1));

        Assert.Equal("Placed", order.Status);
        var cancelled = await PollOrderAsync(client, order.Id, o => o.Status == "Cancelled", "the order to be cancelled by Catalog's StockRejected");
        Assert.Equal("out-of-stock", cancelled.CancellationReason);
        // Cancelling published OrderCancelled, as a user's cancel does (Loyalty reverts points on it); Catalog took
        // nothing for this order, so handling it puts nothing back.
        var cancelledEvent = await OutboxRowAsync(order.Id, "OrderCancelled.v1");
        await Poll.UntilAsync(() => CatalogHandledAsync(cancelledEvent), "Catalog to handle the OrderCancelled");
        Assert.Equal((desks, lamps), (await StockAsync(22), await StockAsync(20)));
    }

    [Fact]
    public async Task PlacedThenCancelledByTheUser_TakesTheStock_ThenRestoresItExactly()
    {
        using var client = _shop.ClientFor(OrderingFixture.NewUserId());
        var (keyboards, hubs) = (await StockAsync(3), await StockAsync(5));

        var order = await client.PlaceAsync((3, 2), (5, 3));
        await Poll.UntilAsync(async () => await StockAsync(3) == keyboards - 2, "Catalog to take the stock");
        Assert.Equal(hubs - 3, await StockAsync(5));

        using var cancel = await client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("user", (await cancel.Content.ReadFromJsonAsync<OrderDto>(OrderingHttp.Web, Ct))!.CancellationReason);

        await Poll.UntilAsync(async () => await StockAsync(3) == keyboards, "Catalog to put the stock back");
        var cancelledEvent = await OutboxRowAsync(order.Id, "OrderCancelled.v1");
        await Poll.UntilAsync(() => CatalogHandledAsync(cancelledEvent), "Catalog to handle the OrderCancelled");
        Assert.Equal((keyboards, hubs), (await StockAsync(3), await StockAsync(5)));
        Assert.Equal("user", (await client.GetFromJsonAsync<OrderDto>($"api/orders/{order.Id}", OrderingHttp.Web, Ct))!.CancellationReason);
    }

    [Fact]
    public async Task HundredOrdersWhileOrderingCannotReachTheBroker_AreAllAccepted_AndTheStockEndsExactlyRight()
    {
        using var client = _shop.ClientFor(OrderingFixture.NewUserId());
        var ramen = await StockAsync(38);
        await fixture.OrderingToStore.CutAsync();

        var orders = new List<OrderDto>();
        var reopened = false;
        try
        {
            for (var i = 0; i < 100; i++)
            {
                orders.Add(await client.PlaceAsync((38, 1 + (i % 3))));
            }
            var wanted = orders.Sum(o => o.Items.Single().Quantity);
            // Accepted, not published: the relay keeps failing and backing off, so Catalog has taken nothing.
            await Poll.UntilAsync(async () => await FailedPublishAttemptsAsync() > 0, "Ordering's relay to have tried and failed");
            Assert.Equal(ramen, await StockAsync(38));

            fixture.OrderingToStore.Open();
            reopened = true;
            await Poll.UntilAsync(async () => await StockAsync(38) == ramen - wanted, $"the stock of product 38 to reach {ramen - wanted}", TimeSpan.FromSeconds(60));
            await Poll.UntilAsync(async () => await ReservationsAsync(orders) == 100, "a reservation per order");
            Assert.Equal(ramen - wanted, await StockAsync(38));
            Assert.All(await Task.WhenAll(orders.Select(o => client.GetFromJsonAsync<OrderDto>($"api/orders/{o.Id}", OrderingHttp.Web, Ct))),
                o => Assert.Equal("Placed", o!.Status));
        }
        finally
        {
            if (!reopened)
            {
                fixture.OrderingToStore.Open(); // the other tests need the broker
            }
        }
    }

    private async Task<int> StockAsync(int productId)
    {
        using var response = await _shop.Catalog.GetAsync($"api/products/{productId}", Ct);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return json.RootElement.GetProperty("stock").GetInt32();
    }

    private static async Task<OrderDto> PollOrderAsync(HttpClient client, Guid id, Func<OrderDto, bool> condition, string what)
    {
        OrderDto? order = null;
        await Poll.UntilAsync(async () => condition(order = (await client.GetFromJsonAsync<OrderDto>($"api/orders/{id}", OrderingHttp.Web, Ct))!), what);
        return order!;
    }

    private async Task<Guid> OutboxRowAsync(Guid orderId, string type)
    {
        await using var scope = _shop.App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        var key = orderId.ToString();
        return await db.Outbox.Where(m => m.CorrelationId == key && m.Type == type).Select(m => m.Id).SingleAsync(Ct);
    }

    private async Task<int> FailedPublishAttemptsAsync()
    {
        await using var scope = _shop.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<OrderingDbContext>().Outbox.Where(m => m.PublishedAt == null).SumAsync(m => m.Attempts, Ct);
    }

    private async Task<bool> CatalogHandledAsync(Guid messageId)
    {
        await using var scope = _shop.CatalogServices!.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogDbContext>().Set<Portico.Messaging.Inbox.InboxMessage>().AnyAsync(m => m.MessageId == messageId, Ct);
    }

    private async Task<int> ReservationsAsync(List<OrderDto> orders)
    {
        var ids = orders.Select(o => o.Id).ToList();
        await using var scope = _shop.CatalogServices!.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogDbContext>().StockReservations.CountAsync(r => ids.Contains(r.OrderId), Ct);
    }
}

public sealed class StockSagaTestsOnSqlite(StockSagaTests.Fixture fixture) : StockSagaTests(fixture), IClassFixture<StockSagaTests.Fixture>;

public sealed class StockSagaTestsOnPostgres(StockSagaTests.PostgresFixture fixture) : StockSagaTests(PostgresTestDatabase.Required(fixture)), IClassFixture<StockSagaTests.PostgresFixture>;

/// <summary>Waits for an asynchronous effect by polling, with a deadline; never a fixed sleep.</summary>
internal static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }
}
