using System.Net;
using System.Net.Http.Json;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

/// <summary>Reading and cancelling: a user sees and cancels only their own orders.</summary>
public sealed class OrdersApiTests(OrderingFixture fixture) : IClassFixture<OrderingFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetOrder_OfAnotherUser_Is404AsIfItDidNotExist()
    {
        using var owner = fixture.ClientFor(OrderingFixture.NewUserId());
        using var other = fixture.ClientFor(OrderingFixture.NewUserId());
        var order = await owner.PlaceAsync((1, 1));

        using var response = await other.GetAsync($"api/orders/{order.Id}", Ct);
        using var unknown = await other.GetAsync($"api/orders/{Guid.NewGuid()}", Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.NotFound);
        await unknown.ReadProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal("Order not found", problem.Title);
    }

    [Fact]
    public async Task GetOrder_AnotherUserNamedInXUserId_Is404()
    {
        var ownerId = OrderingFixture.NewUserId();
        using var owner = fixture.ClientFor(ownerId);
        var order = await owner.PlaceAsync((1, 1));
        using var other = fixture.ClientFor(OrderingFixture.NewUserId());
        other.DefaultRequestHeaders.Add("X-User-Id", ownerId);

        using var response = await other.GetAsync($"api/orders/{order.Id}", Ct);

        await response.ReadProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task GetOrder_IdThatIsNotAGuid_Is404Problem()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.GetAsync("api/orders/42", Ct);

        await response.ReadProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task GetOrders_PagesThroughOnlyMyOrdersNewestFirst()
    {
        using var me = fixture.ClientFor(OrderingFixture.NewUserId());
        using var someoneElse = fixture.ClientFor(OrderingFixture.NewUserId());
        var placed = new List<OrderDto>();
        for (var i = 1; i <= 3; i++)
        {
            placed.Add(await me.PlaceAsync((i, i)));
            await someoneElse.PlaceAsync((i, 1));
        }

        var first = (await me.GetFromJsonAsync<OrderPageDto>("api/orders?page=1&pageSize=2", Web, Ct))!;
        var second = (await me.GetFromJsonAsync<OrderPageDto>("api/orders?page=2&pageSize=2", Web, Ct))!;
        var beyond = (await me.GetFromJsonAsync<OrderPageDto>("api/orders?page=3&pageSize=2", Web, Ct))!;

        Assert.Equal((1, 2, 3, 2), (first.Page, first.PageSize, first.TotalCount, first.TotalPages));
        Assert.Equal(placed.Select(o => o.Id).Reverse(), first.Items.Concat(second.Items).Select(o => o.Id));
        Assert.Equal((placed[2].Status, placed[2].Total, placed[2].CreatedAt), (first.Items[0].Status, first.Items[0].Total, first.Items[0].CreatedAt));
        Assert.Equal(placed[2].Items, first.Items[0].Items);
        Assert.Empty(beyond.Items);
    }

    [Fact]
    public async Task GetOrders_NewUser_IsAnEmptyFirstPageOfTwenty()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        var page = (await client.GetFromJsonAsync<OrderPageDto>("api/orders", Web, Ct))!;

        Assert.Empty(page.Items);
        Assert.Equal((1, 20, 0, 0), (page.Page, page.PageSize, page.TotalCount, page.TotalPages));
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("page=x", "page")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=101", "pageSize")]
    [InlineData("pageSize=1.5", "pageSize")]
    public async Task GetOrders_BadPaging_Is400NamingTheParameter(string query, string parameter)
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.GetAsync("api/orders?" + query, Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal([parameter], problem.Errors!.Keys);
    }

    [Theory]
    [InlineData("GET", "api/orders")]
    [InlineData("GET", "api/orders/0191c8a4-0000-7000-8000-000000000000")]
    [InlineData("POST", "api/orders/0191c8a4-0000-7000-8000-000000000000/cancel")]
    public async Task EveryEndpoint_WithoutAToken_Is401Problem(string method, string path)
    {
        using var client = fixture.AnonymousClient();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Cancel_PlacedOrder_Is200WithTheCancelledOrderAndWritesOrderCancelled()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var order = await client.PlaceAsync((2, 3));

        using var response = await client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cancelled = (await response.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        Assert.Equal((order.Id, "Cancelled", order.Total, order.CreatedAt), (cancelled.Id, cancelled.Status, cancelled.Total, cancelled.CreatedAt));
        Assert.Equal(order.Items, cancelled.Items);
        Assert.Equal("Cancelled", (await client.GetFromJsonAsync<OrderDto>($"api/orders/{order.Id}", Web, Ct))!.Status);
        var rows = await fixture.RowsOfAsync(user);
        Assert.Equal(["OrderPlaced.v1", "OrderCancelled.v1"], rows.Outbox.OrderBy(m => m.CreatedAt).ThenBy(m => m.Id).Select(m => m.Type));
    }

    [Fact]
    public async Task Cancel_Twice_IsThen409Problem()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var order = await client.PlaceAsync((2, 1));
        (await client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct)).Dispose();

        using var again = await client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct);

        var problem = await again.ReadProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains("Cancelled", problem.Detail, StringComparison.Ordinal);
        Assert.Single((await fixture.RowsOfAsync(user)).Outbox, m => m.Type == "OrderCancelled.v1");
    }

    [Fact]
    public async Task Cancel_ConcurrentRequests_OneSucceedsTheOthersAre409()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var order = await client.PlaceAsync((8, 1));

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct), Ct)));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(9, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Single((await fixture.RowsOfAsync(user)).Outbox, m => m.Type == "OrderCancelled.v1");
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Cancel_AnotherUsersOrder_Is404AndLeavesItPlaced()
    {
        using var owner = fixture.ClientFor(OrderingFixture.NewUserId());
        using var other = fixture.ClientFor(OrderingFixture.NewUserId());
        var order = await owner.PlaceAsync((1, 1));

        using var response = await other.PostAsync($"api/orders/{order.Id}/cancel", null, Ct);

        await response.ReadProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal("Placed", (await owner.GetFromJsonAsync<OrderDto>($"api/orders/{order.Id}", Web, Ct))!.Status);
    }
}
