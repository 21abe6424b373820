using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portico.Contracts.Events;
using Portico.Reporting.Infrastructure;

namespace Portico.Reporting.Tests;

/// <summary>
/// Reporting's sales read model, fed through the real broker (Garnet) as Ordering's relay feeds it: totals per day and
/// per product stay right when an event arrives twice (same message id, or the same event republished under a new
/// one), and when a cancellation arrives before its placement. The summary endpoint serves admins only.
/// </summary>
public sealed class SalesReadModelTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day1 = new(2025, 3, 10, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day2 = new(2025, 3, 11, 23, 30, 0, TimeSpan.Zero);

    private ReportingEnvironment _env = null!;
    private ReportingApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _env = await ReportingEnvironment.StartAsync();
        _app = await _env.StartReportingAsync();
    }

    public async ValueTask DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Duplicates_AndCancelBeforePlacement_LeaveTheTotalsRight()
    {
        var kept = Order("alice", Day1, (1, 2, 500), (2, 1, 300));          // 1300, stays
        var cancelledLater = Order("bob", Day1, (1, 1, 500));               // 500, cancelled after placement
        var cancelledFirst = Order("carol", Day2, (2, 4, 300));             // 1200, its cancel arrives first
        var second = Order("alice", Day2, (3, 1, 1000));                    // 1000, stays

        var keptMessage = Guid.NewGuid();
        await _env.PlaceAsync(kept, keptMessage);
        await _env.PlaceAsync(kept, keptMessage);                           // redelivered: same message id
        await _env.PlaceAsync(kept);                                        // republished: a new message id
        await _env.PlaceAsync(cancelledLater);
        await _env.CancelAsync(Cancel(cancelledFirst));                     // before its placement
        await _env.PlaceAsync(second);
        await WaitForOrdersAsync(kept.OrderId, cancelledLater.OrderId, cancelledFirst.OrderId, second.OrderId);
        await _env.PlaceAsync(cancelledFirst);
        var cancel = Guid.NewGuid();
        await _env.CancelAsync(Cancel(cancelledLater), cancel);
        await _env.CancelAsync(Cancel(cancelledLater), cancel);             // redelivered cancel
        await Poll.UntilAsync(async () => await InboxCountAsync() == 7, "every distinct message to be handled");

        using var admin = _env.ClientFor(_app, "admin-1", "admin");
        var summary = await (await admin.GetAsync("/api/reports/sales/summary?from=2025-03-10&to=2025-03-11", TestContext.Current.CancellationToken)).JsonAsync();

        var totals = summary.GetProperty("totals");
        Assert.Equal(2, totals.GetProperty("orders").GetInt32());
        Assert.Equal(4, totals.GetProperty("units").GetInt64());           // 2 + 1 + 1
        Assert.Equal(2300, totals.GetProperty("revenue").GetInt64());      // 1300 + 1000
        Assert.Equal(2, totals.GetProperty("cancelledOrders").GetInt32());
        var days = summary.GetProperty("days").EnumerateArray().Select(d => (d.GetProperty("day").GetString(), d.GetProperty("revenue").GetInt64())).ToList();
        Assert.Equal([("2025-03-10", 1300L), ("2025-03-11", 1000L)], days);
        var products = summary.GetProperty("products").EnumerateArray().ToDictionary(p => p.GetProperty("productId").GetInt32(), p => p.GetProperty("units").GetInt64());
        Assert.Equal(new Dictionary<int, long> { [1] = 2, [2] = 1, [3] = 1 }, products);

        // The order whose cancel came first learned its lines but counts nowhere.
        await using var scope = _app.Services.CreateAsyncScope();
        var row = await scope.ServiceProvider.GetRequiredService<ReportingDbContext>().Orders.Include(o => o.Lines).SingleAsync(o => o.OrderId == cancelledFirst.OrderId, TestContext.Current.CancellationToken);
        Assert.True(row.Placed && row.Cancelled);
        Assert.Single(row.Lines);
    }

    [Fact]
    public async Task Summary_IsForAdminsOnly()
    {
        using var user = _env.ClientFor(_app, "user-1");
        using var anonymous = _app.CreateHttpClient();

        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync("/api/reports/sales/summary", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/reports/sales/summary", TestContext.Current.CancellationToken)).StatusCode);
    }

    [Theory]
    [InlineData("from=2025-13-01&to=2025-03-01", "from")]
    [InlineData("from=2025-03-02&to=2025-03-01", "to")]
    [InlineData("from=2020-01-01&to=2025-01-01", "to")]
    [InlineData("to=yesterday", "to")]
    public async Task Summary_BadRange_Is400NamingTheField(string query, string field)
    {
        using var admin = _env.ClientFor(_app, "admin-1", "admin");

        var response = await admin.GetAsync("/api/reports/sales/summary?" + query, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty(field, out _), $"the problem names '{field}'");
    }

    private async Task WaitForOrdersAsync(params Guid[] orders) =>
        await Poll.UntilAsync(async () =>
        {
            await using var scope = _app.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<ReportingDbContext>().Orders.CountAsync(o => orders.Contains(o.OrderId)) == orders.Length;
        }, "the orders to reach the read model");

    private async Task<int> InboxCountAsync()
    {
        await using var scope = _app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ReportingDbContext>().Set<Portico.Messaging.Inbox.InboxMessage>().CountAsync();
    }

    internal static OrderPlaced Order(string user, DateTimeOffset at, params (int Product, int Quantity, long Price)[] lines) =>
        new(Guid.NewGuid(), user, lines.Sum(l => l.Quantity * l.Price), [.. lines.Select(l => new OrderPlacedLine(l.Product, l.Quantity, l.Price))], at);

    private static OrderCancelled Cancel(OrderPlaced order) => new(order.OrderId, order.UserId, order.Total, order.PlacedAt.AddMinutes(5));
}
