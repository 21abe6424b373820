extern alias LoyaltyService;

using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;
using Reconciler = LoyaltyService::Portico.Loyalty.Reconciliation.Reconciler;

namespace Portico.Loyalty.Tests;

/// <summary>
/// Points follow orders, against real Catalog, Ordering and Loyalty hosts on the embedded Garnet broker: a cancel
/// reverts the order's points through Ordering's outbox and Loyalty's consumer (issue 26, failure 2), and the
/// reconciler repairs what the two disagree about, on demand.
/// </summary>
public abstract class PointsFollowOrdersTests(PointsFollowOrdersTests.Shop shop)
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public class Shop : ShopFixture
    {
        // Every placed order qualifies at once, so on-demand passes need no waiting; the schedule stays out of the way.
        protected override IReadOnlyDictionary<string, string?> LoyaltySettings => new Dictionary<string, string?>
        {
            ["Loyalty:Reconciler:GracePeriod"] = "00:00:00",
            ["Loyalty:Reconciler:Enabled"] = "false",
        };
    }

    /// <summary>The same shop with every service's database on PostgreSQL.</summary>
    public sealed class PostgresShop : Shop
    {
        protected override DatabaseEngine Engine => DatabaseEngine.Postgres;
    }

    private sealed record OrderDto(Guid Id, string Status, long Total);

    private sealed record ReportDto(int OrdersChecked, int EntriesChecked, int Accrued, int Reverted, int Failed, bool Complete);

    [Fact]
    public async Task Purchase_ThenCancel_ThePointsAreGoneWithinSeconds()
    {
        var user = "user-" + Guid.NewGuid().ToString("N")[..12];
        using var ordering = shop.OrderingClientFor(user);
        using var placed = await ordering.PostAsJsonAsync("api/orders", new { items = new[] { new { productId = 1, quantity = 2 } } }, Ct);
        var order = (await placed.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        // The points step of the purchase, as the gateway makes it.
        var accrued = await shop.Loyalty.AccrueAsync(user, order.Id.ToString(), order.Total);
        Assert.True(accrued.PointsEarned > 0);

        using var cancel = await ordering.PostAsync($"api/orders/{order.Id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

        await ShopFixture.EventuallyAsync(async () => await shop.Loyalty.BalanceAsync(user) == 0, "the cancelled order's points to be reverted");
        var e = await Assert.ThrowsAsync<RpcException>(() => shop.Loyalty.AccrueAsync(user, order.Id.ToString(), order.Total));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
    }

    [Fact]
    public async Task CancelBeforeTheAccrualArrives_TheLateAccrualIsRefused()
    {
        var user = "user-" + Guid.NewGuid().ToString("N")[..12];
        using var ordering = shop.OrderingClientFor(user);
        using var placed = await ordering.PostAsJsonAsync("api/orders", new { items = new[] { new { productId = 2, quantity = 1 } } }, Ct);
        var order = (await placed.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        (await ordering.PostAsync($"api/orders/{order.Id}/cancel", null, Ct)).Dispose();

        // The event reaches Loyalty first (its tombstone), then the accrual of a retried purchase.
        await ShopFixture.EventuallyAsync(async () =>
        {
            try
            {
                await shop.Loyalty.Client.AccrueAsync(new AccrueRequest { UserId = user, OrderId = order.Id.ToString(), Amount = order.Total }, shop.Loyalty.ServiceHeaders, cancellationToken: Ct);
                // Accepted: the event had not arrived yet; it will revert this accrual, so look again.
                return false;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
            {
                return true;
            }
        }, "the cancel to reach Loyalty");
        await ShopFixture.EventuallyAsync(async () => await shop.Loyalty.BalanceAsync(user) == 0, "no points for the cancelled order");
    }

    [Fact]
    public async Task Reconcile_AccruesAPlacedOrderWithoutPoints_AndRevertsPointsOfAnOrderThatDoesNotExist()
    {
        var user = "user-" + Guid.NewGuid().ToString("N")[..12];
        using var ordering = shop.OrderingClientFor(user);
        using var placed = await ordering.PostAsJsonAsync("api/orders", new { items = new[] { new { productId = 3, quantity = 1 } } }, Ct);
        var order = (await placed.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        var ghost = Guid.NewGuid().ToString();
        await shop.Loyalty.AccrueAsync(user, ghost, 50_000);
        using var repairs = new MetricCollector<long>(shop.Loyalty.App.Services.GetRequiredService<IMeterFactory>(), Reconciler.MeterName, Reconciler.RepairsInstrument);
        using var admin = shop.LoyaltyAdmin();

        using var response = await admin.PostAsync("admin/reconcile?full=true", null, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = (await response.Content.ReadFromJsonAsync<ReportDto>(Web, Ct))!;
        Assert.True(report.Complete);
        Assert.Equal(order.Total / 100, await shop.Loyalty.BalanceAsync(user));
        var entries = (await shop.Loyalty.Client.ListEntriesAsync(new ListEntriesRequest { UserId = user }, shop.Loyalty.ServiceHeaders, cancellationToken: Ct)).Entries;
        Assert.Contains(entries, e => e.OrderId == order.Id.ToString() && e.Kind == EntryKind.Accrual);
        Assert.Contains(entries, e => e.OrderId == ghost && e.Kind == EntryKind.Reversal);
        var measured = repairs.GetMeasurementSnapshot();
        Assert.Contains(measured, m => Equals(m.Tags["kind"], "accrue"));
        Assert.Contains(measured, m => Equals(m.Tags["kind"], "revert"));

        // Repairs go through idempotent operations: a second pass finds nothing more about these two.
        using var again = await admin.PostAsync("admin/reconcile?full=true", null, Ct);
        Assert.Equal(order.Total / 100, await shop.Loyalty.BalanceAsync(user));
    }

    [Fact]
    public async Task Reconcile_NeedsAnAdminOrServiceToken()
    {
        using var http = new HttpClient { BaseAddress = shop.Loyalty.App.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", shop.Tokens.CreateToken("user-1"));

        using var response = await http.PostAsync("admin/reconcile", null, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}

public sealed class PointsFollowOrdersTestsOnSqlite(PointsFollowOrdersTests.Shop shop) : PointsFollowOrdersTests(shop), IClassFixture<PointsFollowOrdersTests.Shop>;

public sealed class PointsFollowOrdersTestsOnPostgres(PointsFollowOrdersTests.PostgresShop shop) : PointsFollowOrdersTests(PostgresTestDatabase.Required(shop)), IClassFixture<PointsFollowOrdersTests.PostgresShop>;

/// <summary>The reconciler's schedule, on Loyalty's own clock (a fake one here): nothing before the interval, a repair after.</summary>
public sealed class ScheduledReconcileTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly Shop _shop = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Shop : ShopFixture
    {
        public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

        protected override TimeProvider? LoyaltyTime => Clock;

        protected override IReadOnlyDictionary<string, string?> LoyaltySettings => new Dictionary<string, string?>
        {
            ["Loyalty:Reconciler:Interval"] = "00:05:00",
            ["Loyalty:Reconciler:GracePeriod"] = "00:02:00",
        };
    }

    private sealed record OrderDto(Guid Id, string Status, long Total);

    public ValueTask InitializeAsync() => _shop.InitializeAsync();

    public ValueTask DisposeAsync() => _shop.DisposeAsync();

    [Fact]
    public async Task PlacedOrderWithoutPoints_IsAccruedByTheScheduledPass()
    {
        var user = "user-" + Guid.NewGuid().ToString("N")[..12];
        using var ordering = _shop.OrderingClientFor(user);
        using var placed = await ordering.PostAsJsonAsync("api/orders", new { items = new[] { new { productId = 4, quantity = 1 } } }, Ct);
        var order = (await placed.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;

        _shop.Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(0, await _shop.Loyalty.BalanceAsync(user)); // no pass before the interval
        _shop.Clock.Advance(TimeSpan.FromMinutes(1));

        await ShopFixture.EventuallyAsync(async () => await _shop.Loyalty.BalanceAsync(user) == order.Total / 100, "the scheduled pass to accrue the order");
    }
}
