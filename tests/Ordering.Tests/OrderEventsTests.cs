using System.Net;
using System.Net.Http.Json;
using Portico.Tests.Common;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

public sealed class OrderEventsTestsOnSqlite(OrderingFixture fixture) : OrderEventsTests(fixture), IClassFixture<OrderingFixture>;

public sealed class OrderEventsTestsOnPostgres(PostgresOrderingFixture fixture) : OrderEventsTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresOrderingFixture>;

/// <summary>
/// Issue 26, failure 7: each outbox row carries its order as the aggregate and the order's event number, counted in
/// the order row in the same transaction (1 placed, 2 cancelled), so consumers can order them without clocks.
/// </summary>
public abstract class OrderEventsTests(OrderingFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PlacedThenCancelled_OutboxRowsCarryTheOrderAndSequenceOneThenTwo()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var order = await client.PlaceAsync((1, 1));

        // Racing cancels: one wins, one event.
        var cancels = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct), Ct)));

        Assert.Single(cancels, c => c.StatusCode == HttpStatusCode.OK);
        var rows = (await fixture.RowsOfAsync(user)).Outbox.OrderBy(r => r.AggregateSequence).ToList();
        Assert.Equal(["OrderPlaced.v1", "OrderCancelled.v1"], rows.Select(r => r.Type));
        Assert.All(rows, r => Assert.Equal(order.Id.ToString(), r.AggregateId));
        Assert.Equal([1L, 2L], rows.Select(r => r.AggregateSequence!.Value));
        Assert.Equal(2, Assert.Single((await fixture.RowsOfAsync(user)).Orders).EventSequence);
        foreach (var cancel in cancels)
        {
            cancel.Dispose();
        }
    }
}

public sealed class ServiceOrdersApiTestsOnSqlite(OrderingFixture fixture) : ServiceOrdersApiTests(fixture), IClassFixture<OrderingFixture>;

public sealed class ServiceOrdersApiTestsOnPostgres(PostgresOrderingFixture fixture) : ServiceOrdersApiTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresOrderingFixture>;

/// <summary><c>GET /internal/orders</c>: every user's orders for a service token only, paged by last change, or by ids.</summary>
public abstract class ServiceOrdersApiTests(OrderingFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed record ServiceOrderDto(Guid Id, string UserId, string Status, long Total, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt);

    public sealed record ServiceOrderPageDto(List<ServiceOrderDto> Items, string? NextPageToken);

    [Fact]
    public async Task UserToken_Is403_AndNoToken_Is401()
    {
        using var user = fixture.ClientFor(OrderingFixture.NewUserId());
        using var anonymous = fixture.AnonymousClient();

        using var forbidden = await user.GetAsync("internal/orders", Ct);
        using var unauthorized = await anonymous.GetAsync("internal/orders", Ct);

        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
    }

    [Fact]
    public async Task ChangedSince_PagesThroughEveryChangeOnce_CancelledLast()
    {
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var alice = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(alice);
        var placed = new List<OrderDto>();
        for (var i = 0; i < 5; i++)
        {
            placed.Add(await client.PlaceAsync((1, i + 1)));
        }
        (await client.PostAsync($"api/orders/{placed[0].Id}/cancel", null, Ct)).Dispose();
        using var service = fixture.ServiceClient();

        var seen = new List<ServiceOrderDto>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = (await service.GetFromJsonAsync<ServiceOrderPageDto>(
                $"internal/orders?changedSince={Uri.EscapeDataString(since.ToString("O"))}&pageSize=2" + (token is null ? "" : $"&pageToken={token}"), Web, Ct))!;
            seen.AddRange(page.Items.Where(o => o.UserId == alice));
            token = page.NextPageToken;
            pages++;
        }
        while (token is not null && pages < 100);

        Assert.Equal(placed.Select(o => o.Id).Order(), seen.Select(o => o.Id).Order());
        Assert.Equal(placed[0].Id, seen[^1].Id);
        Assert.Equal("Cancelled", seen[^1].Status);
        Assert.True(pages >= 3);
    }

    [Fact]
    public async Task Ids_ListThoseThatExist()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());
        var order = await client.PlaceAsync((2, 1));
        using var service = fixture.ServiceClient();

        var page = (await service.GetFromJsonAsync<ServiceOrderPageDto>($"internal/orders?id={order.Id}&id={Guid.NewGuid()}", Web, Ct))!;

        Assert.Equal(order.Id, Assert.Single(page.Items).Id);
    }

    [Theory]
    [InlineData("changedSince=yesterday", "changedSince")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageToken=bm9wZQ", "pageToken")]
    [InlineData("id=not-a-guid", "id[0]")]
    public async Task BadQuery_Is400NamingTheParameter(string query, string field)
    {
        using var service = fixture.ServiceClient();

        using var response = await service.GetAsync($"internal/orders?{query}", Ct);

        Assert.Contains(field, (await response.ReadProblemAsync(HttpStatusCode.BadRequest)).Errors!.Keys);
    }
}
