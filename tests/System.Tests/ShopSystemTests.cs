using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Portico.Contracts.Loyalty.V1;

namespace Portico.SystemTests;

public sealed class ShopSystemTests(PorticoSystemFixture system)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Order_ThroughTheGateway_IsPricedByCatalog_AndReadableByItsOwner()
    {
        var token = await system.SignUpAsync(Ct);
        using var product = JsonDocument.Parse(await system.Gateway.GetStringAsync("/api/products/3", Ct));
        var price = product.RootElement.GetProperty("price").GetInt64();

        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(new { items = new[] { new { productId = 3, quantity = 2 } } }) };
        create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var created = await system.Gateway.SendAsync(create, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var order = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct));
        Assert.Equal(price * 2, order.RootElement.GetProperty("total").GetInt64());

        using var read = new HttpRequestMessage(HttpMethod.Get, created.Headers.Location);
        read.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var readBack = await system.Gateway.SendAsync(read, Ct);
        Assert.Equal(HttpStatusCode.OK, readBack.StatusCode);

        using var anonymous = await system.Gateway.PostAsJsonAsync("/api/orders", new { items = new[] { new { productId = 3, quantity = 1 } } }, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task GrpcClient_CallsLoyalty_ThroughTheGatewaysH2cPort()
    {
        var token = await system.SignUpAsync(Ct);
        using var channel = GrpcChannel.ForAddress(system.GatewayH2c);
        var client = new Loyalty.LoyaltyClient(channel);
        var headers = new Metadata { { "Authorization", "Bearer " + token } };

        var balance = await client.GetBalanceAsync(new GetBalanceRequest(), headers, cancellationToken: Ct);
        Assert.Equal(0, balance.Points);

        // A user may not accrue points for itself: the rule travels through the gateway intact.
        var denied = await Assert.ThrowsAsync<RpcException>(() => client.AccrueAsync(
            new AccrueRequest { UserId = balance.UserId, OrderId = "o-1", Amount = 100000 }, headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => client.GetBalanceAsync(new GetBalanceRequest(), cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
    }

    [Fact]
    public async Task Purchase_CreatesTheOrder_AndAccruesPoints_WhichTheRestBalanceShows()
    {
        var token = await system.SignUpAsync(Ct);
        using var product = JsonDocument.Parse(await system.Gateway.GetStringAsync("/api/products/3", Ct));
        var price = product.RootElement.GetProperty("price").GetInt64();

        // Pending (503) or in progress (409) is asked again with the same key, as the API tells clients to.
        var (status, body) = await system.PurchaseAsync(token, new { items = new[] { new { productId = 3, quantity = 2 } } }, Ct);
        Assert.True(status == HttpStatusCode.OK, body);
        using var result = JsonDocument.Parse(body);
        Assert.Equal(price * 2, result.RootElement.GetProperty("order").GetProperty("total").GetInt64());
        var earned = long.Parse(result.RootElement.GetProperty("points").GetProperty("pointsEarned").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(price * 2 / 100, earned);

        // The same ledger through REST: the gateway transcodes GET /api/points/balance to Loyalty's GetBalance.
        using var balance = new HttpRequestMessage(HttpMethod.Get, "/api/points/balance");
        balance.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var balanceResponse = await system.Gateway.SendAsync(balance, Ct);
        Assert.Equal(HttpStatusCode.OK, balanceResponse.StatusCode);
        using var points = JsonDocument.Parse(await balanceResponse.Content.ReadAsStringAsync(Ct));
        Assert.Equal(earned.ToString(System.Globalization.CultureInfo.InvariantCulture), points.RootElement.GetProperty("points").GetString());
    }

    [Fact]
    public async Task Home_IsComposedOfWeatherAndFeaturedProducts()
    {
        using var home = JsonDocument.Parse(await system.Gateway.GetStringAsync("/api/home?city=Jeju", Ct));

        Assert.Equal("Jeju", home.RootElement.GetProperty("weather").GetProperty("city").GetString());
        var featured = home.RootElement.GetProperty("featured").GetProperty("items");
        Assert.True(featured.GetArrayLength() > 0);
        Assert.All(featured.EnumerateArray(), p => Assert.True(p.GetProperty("featured").GetBoolean()));
        // Anonymous: no balance, and nothing reported missing either.
        Assert.False(home.RootElement.TryGetProperty("balance", out _));
        Assert.False(home.RootElement.TryGetProperty("partial", out _));
    }

    [Fact]
    public async Task Home_ForASignedInCaller_AlsoCarriesThePointsBalance_FetchedOverGrpc()
    {
        var token = await system.SignUpAsync(Ct);
        // The balance step has a 2 s budget; on a cold, busy machine the first HTTP/2 connection to Loyalty may
        // take longer, so open it first with a call that has no such budget.
        using var warm = new HttpRequestMessage(HttpMethod.Get, "/api/points/balance");
        warm.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        (await system.Gateway.SendAsync(warm, Ct)).Dispose();

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/home");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await system.Gateway.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        using var home = JsonDocument.Parse(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(home.RootElement.TryGetProperty("balance", out _), body);
        Assert.Equal("0", home.RootElement.GetProperty("balance").GetProperty("points").GetString());
    }
}
