using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

/// <summary>
/// Issue 26, failure 8: Ordering refuses what Loyalty would refuse before it stores anything — a product priced at
/// zero, a line whose quantity × price overflows, a total that overflows or passes Loyalty's accrual limit — with a
/// problem naming the line, never a 500. The Catalog is a stand-in with the prices these cases need.
/// </summary>
public sealed class PricingLimitsTests : IAsyncLifetime
{
    private const long Huge = long.MaxValue / 50; // × 100 overflows; × 1 does not
    private TestBackend _catalog = null!;
    private OrderingFixture _fixture = null!;

    public async ValueTask InitializeAsync()
    {
        var prices = new Dictionary<int, long> { [1] = 1_000, [2] = 0, [3] = Huge, [4] = 400_000_000_000, [5] = long.MaxValue - 10 };
        _catalog = await TestBackend.StartAsync("catalog", app => app.MapGet("/api/products/{id:int}", (int id) =>
            prices.TryGetValue(id, out var price) ? Results.Json(new { id, name = $"product {id}", price }) : Results.NotFound()));
        _fixture = new OrderingFixture { CatalogUrl = _catalog.Address };
        await _fixture.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _fixture.DisposeAsync();
        await _catalog.DisposeAsync();
    }

    [Fact]
    public async Task ProductPricedZero_Is422NamingTheLine_AndStoresNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((1, 1), (2, 3)), Guid.NewGuid().ToString());

        var problem = await response.ReadProblemAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal(["items[1].productId"], problem.Errors!.Keys);
        Assert.True((await _fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task LineWhoseQuantityTimesPriceOverflows_Is400NamingTheLine_AndStoresNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((1, 2), (3, 100)));

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(["items[1].quantity"], problem.Errors!.Keys);
        Assert.True((await _fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task TotalThatOverflows_Is400_AndStoresNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((5, 1), (1, 1)));

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(["items"], problem.Errors!.Keys);
        Assert.True((await _fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task TotalAboveLoyaltysLimit_Is400_AndOneAtTheLimitIsAccepted()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);

        using var over = await client.PostOrderAsync(OrderBody((4, 3))); // 1.2 trillion KRW
        using var within = await client.PostOrderAsync(OrderBody((4, 2))); // 800 billion KRW

        var problem = await over.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("1000000000000", problem.Errors!["items"][0], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, within.StatusCode);
        Assert.Single((await _fixture.RowsOfAsync(user)).Orders);
    }
}
