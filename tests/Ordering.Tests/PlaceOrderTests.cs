using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

public sealed class PlaceOrderTests(OrderingFixture fixture) : IClassFixture<OrderingFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PlaceOrder_PricesEachLineFromCatalogAndAnswers201WithLocation()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var (p1, p2, p3) = (await fixture.Catalog.GetProductAsync(1), await fixture.Catalog.GetProductAsync(2), await fixture.Catalog.GetProductAsync(7));

        using var response = await client.PostOrderAsync(OrderBody((1, 2), (2, 1), (7, 5)));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = (await response.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        Assert.Equal($"/api/orders/{order.Id}", response.Headers.Location?.OriginalString);
        Assert.Equal("Placed", order.Status);
        Assert.Equal((p1.Price * 2) + p2.Price + (p3.Price * 5), order.Total);
        Assert.Equal(
            [new OrderLineDto(1, p1.Name, p1.Price, 2, p1.Price * 2), new OrderLineDto(2, p2.Name, p2.Price, 1, p2.Price), new OrderLineDto(7, p3.Name, p3.Price, 5, p3.Price * 5)],
            order.Items);
        Assert.InRange(order.CreatedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task PlaceOrder_LocationServesTheSameOrder()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());
        using var created = await client.PostOrderAsync(OrderBody((3, 4)));
        var body = await created.Content.ReadAsStringAsync(Ct);

        var fetched = await client.GetStringAsync(created.Headers.Location, Ct);

        Assert.Equal(body, fetched);
    }

    [Fact]
    public async Task PlaceOrder_Json_HasTheDocumentedCamelCaseShape()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.PostOrderAsync(OrderBody((5, 1)));

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(["id", "status", "items", "total", "createdAt"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["productId", "productName", "unitPrice", "quantity", "lineTotal"], json.RootElement.GetProperty("items")[0].EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task PlaceOrder_WritesOneOrderPlacedOutboxRowInTheSameTransaction()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);

        var order = await client.PlaceAsync((1, 3), (4, 1));

        var rows = await fixture.RowsOfAsync(user);
        var stored = Assert.Single(rows.Orders);
        Assert.Equal(order.Id, stored.Id);
        var message = Assert.Single(rows.Outbox);
        Assert.Equal("OrderPlaced.v1", message.Type);
        // The fixture has a broker, so the relay may have published it already; it never failed to.
        Assert.True(message.PublishedAt is null || message.PublishedAt >= message.CreatedAt);
        Assert.Equal(0, message.Attempts);
        Assert.Equal(order.CreatedAt, message.CreatedAt);
        using var payload = JsonDocument.Parse(message.Payload);
        Assert.Equal(order.Id, payload.RootElement.GetProperty("orderId").GetGuid());
        Assert.Equal(user, payload.RootElement.GetProperty("userId").GetString());
        Assert.Equal(order.Total, payload.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(2, payload.RootElement.GetProperty("items").GetArrayLength());
        Assert.Empty(rows.IdempotencyRecords); // no key, no record
    }

    [Fact]
    public async Task PlaceOrder_XUserIdHeader_IsIgnored_TheTokenSaysWhoOrders()
    {
        var user = OrderingFixture.NewUserId();
        var victim = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        client.DefaultRequestHeaders.Add("X-User-Id", victim);

        var order = await client.PlaceAsync((2, 2));

        Assert.Single((await fixture.RowsOfAsync(user)).Orders, o => o.Id == order.Id);
        Assert.True((await fixture.RowsOfAsync(victim)).IsEmpty);
    }

    [Fact]
    public async Task PlaceOrder_WithoutAToken_Is401ProblemAndStoresNothing()
    {
        using var client = fixture.AnonymousClient();

        using var response = await client.PostOrderAsync(OrderBody((1, 1)));

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task PlaceOrder_WithAForgedToken_Is401()
    {
        using var client = fixture.AnonymousClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", new Portico.Tests.Common.TestTokenIssuer().CreateToken("user-1"));

        using var response = await client.PostOrderAsync(OrderBody((1, 1)));

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task PlaceOrder_FiftyLinesOfTheMaximumQuantity_IsAccepted()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());
        var lines = Enumerable.Range(1, 50).Select(id => (id, 100)).ToArray();

        var order = await client.PlaceAsync(lines);

        Assert.Equal(50, order.Items.Count);
        Assert.Equal(order.Items.Sum(i => i.UnitPrice * 100), order.Total);
    }
}
