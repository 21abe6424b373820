using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

/// <summary>Ordering with no Catalog listening where it looks: every order is 503 with Retry-After, nothing stored.</summary>
public sealed class CatalogUnreachableTests : IAsyncLifetime
{
    private readonly OrderingFixture _fixture = new()
    {
        CatalogUrl = new Uri($"http://127.0.0.1:{Ports.GetFreeTcpPort()}/"),
        Settings = new Dictionary<string, string?> { ["Ordering:CatalogRetryAfter"] = "00:00:07" },
    };

    public ValueTask InitializeAsync() => _fixture.InitializeAsync();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task PlaceOrder_CatalogUnreachable_Is503WithRetryAfterAndStoresNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((1, 1), (2, 3)), Guid.NewGuid().ToString());

        var problem = await response.ReadProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        Assert.Contains("catalog", problem.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.True((await _fixture.RowsOfAsync(user)).IsEmpty);
    }
}

/// <summary>Ordering in front of a Catalog stand-in that fails with 500 until told to recover.</summary>
public sealed class CatalogFailingTests : IAsyncLifetime
{
    private TestBackend _catalog = null!;
    private OrderingFixture _fixture = null!;
    private volatile bool _failing = true;

    public async ValueTask InitializeAsync()
    {
        _catalog = await TestBackend.StartAsync("catalog", app => app.MapGet("/api/products/{id:int}", (int id) => _failing
            ? Results.Problem(statusCode: StatusCodes.Status500InternalServerError)
            : Results.Json(new { id, name = $"Product {id}", nameKo = "상품", description = "", price = 1_000L * id, stock = 10, featured = false })));
        _fixture = new OrderingFixture { CatalogUrl = _catalog.Address };
        await _fixture.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _fixture.DisposeAsync();
        await _catalog.DisposeAsync();
    }

    [Fact]
    public async Task PlaceOrder_Catalog5xx_IsRetriedThen503WithRetryAfterAndStoresNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((3, 1)));

        await response.ReadProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        Assert.Equal(2, _catalog.HitsFor("/api/products/3")); // one retry, as configured for the tests
        Assert.True((await _fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task PlaceOrder_SameKeyAfterCatalogRecovers_PlacesTheOrder()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();

        using var failed = await client.PostOrderAsync(OrderBody((4, 2)), key);
        _failing = false;
        using var retried = await client.PostOrderAsync(OrderBody((4, 2)), key);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        var rows = await _fixture.RowsOfAsync(user);
        Assert.Equal(8_000, Assert.Single(rows.Orders).Total);
        _failing = true;
    }
}
