using System.Net;
using System.Text;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

/// <summary>Every way an order body can be wrong gets a problem+json 4xx naming what is wrong, and stores nothing.</summary>
public sealed class ValidationTests(OrderingFixture fixture) : IClassFixture<OrderingFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> InvalidBodies => new()
    {
        // Not an order at all
        { "", "body" },
        { "not json", "body" },
        { "{\"items\":[{\"productId\":1,\"quantity\":1}]", "body" },
        { "[]", "body" },
        { "null", "body" },
        { "\"items\"", "body" },
        { "{\"items\":[{\"productId\":1,\"quantity\":1}],\"items\":[]}", "body" },
        // items
        { "{}", "items" },
        { "{\"items\":null}", "items" },
        { "{\"items\":{}}", "items" },
        { "{\"items\":\"1x2\"}", "items" },
        { "{\"items\":[]}", "items" },
        { "{\"items\":[1]}", "items[0]" },
        { "{\"items\":[{\"productId\":1,\"quantity\":1}],\"coupon\":\"FREE\"}", "coupon" },
        // quantity
        { "{\"items\":[{\"productId\":1,\"quantity\":0}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1,\"quantity\":-1}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1,\"quantity\":101}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1,\"quantity\":1.5}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1,\"quantity\":\"2\"}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1,\"quantity\":null}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1}]}", "items[0].quantity" },
        { "{\"items\":[{\"productId\":1,\"quantity\":1e400}]}", "items[0].quantity" },
        // productId
        { "{\"items\":[{\"productId\":\"1\",\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"productId\":0,\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"productId\":-3,\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"productId\":2.5,\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"productId\":99999999999,\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"productId\":true,\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"quantity\":1}]}", "items[0].productId" },
        { "{\"items\":[{\"productId\":1,\"quantity\":1,\"price\":1}]}", "items[0].price" },
        // duplicate lines
        { "{\"items\":[{\"productId\":1,\"quantity\":1},{\"productId\":2,\"quantity\":1},{\"productId\":1,\"quantity\":3}]}", "items[2].productId" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidBody_Is400NamingTheFieldAndStoresNothing(string body, string field)
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(body, Guid.NewGuid().ToString());

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.NotNull(problem.Errors);
        Assert.Contains(field, problem.Errors.Keys);
        Assert.Contains(field, problem.Detail, StringComparison.Ordinal);
        Assert.True((await fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task DuplicateLines_NameTheFirstLineOfThatProduct()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.PostOrderAsync(OrderBody((4, 1), (9, 2), (4, 5)));

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        var message = Assert.Single(problem.Errors!["items[2].productId"]);
        Assert.Contains("items[0]", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MoreThanFiftyLines_Is400NamingItems()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.PostOrderAsync(OrderBody([.. Enumerable.Range(1, 51).Select(id => (id, 1))]));

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("50", Assert.Single(problem.Errors!["items"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralFaults_AreAllReported()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.PostOrderAsync("""{"items":[{"productId":"x","quantity":0},{"productId":2,"quantity":500}]}""");

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(["items[0].productId", "items[0].quantity", "items[1].quantity"], problem.Errors!.Keys.Order());
    }

    [Fact]
    public async Task UnknownProduct_Is422NamingTheLineAndTheIdAndStoresNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((1, 1), (987_654, 2), (876_543, 1)), Guid.NewGuid().ToString());

        var problem = await response.ReadProblemAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal(["items[1].productId", "items[2].productId"], problem.Errors!.Keys.Order());
        Assert.Contains("987654", Assert.Single(problem.Errors["items[1].productId"]), StringComparison.Ordinal);
        Assert.True((await fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task NotJsonMediaType_Is415()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var response = await client.PostOrderAsync(OrderBody((1, 1)), mediaType: "text/plain");

        await response.ReadProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task BodyLargerThan64KB_Is413()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());
        var body = "{\"items\":[{\"productId\":1,\"quantity\":1}]" + new string(' ', 70_000) + "}";

        using var response = await client.PostOrderAsync(body);

        await response.ReadProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task ChunkedBodyLargerThan64KB_Is413()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());
        var bytes = Encoding.UTF8.GetBytes("{\"items\":[{\"productId\":1,\"quantity\":1}]" + new string(' ', 70_000) + "}");
        using var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/orders") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request, Ct);

        await response.ReadProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }
}
