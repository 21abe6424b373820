using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class ProxyTests
{
    [Fact]
    public async Task Get_ThroughGateway_ReachesTheRightServiceAndComesBackUnchanged()
    {
        await using var catalog = await TestBackend.StartAsync("catalog", app => app.MapGet("/api/products/{id}", (int id, HttpContext ctx) =>
        {
            ctx.Response.Headers.ETag = "\"v7\"";
            ctx.Response.Headers["X-Backend"] = "catalog";
            ctx.Response.Headers.CacheControl = "public, max-age=30";
            return Results.Json(new { id, name = "무선 키보드" }, statusCode: 203);
        }));
        await using var weather = await TestBackend.StartAsync("weather", app => app.MapGet("/api/weather", () => Results.Text("sunny")));
        var config = GatewayJson.Create(
            [("products", "/api/products/{**rest}", "catalog"), ("weather", "/api/weather", "weather")],
            [("catalog", [catalog.Address]), ("weather", [weather.Address])]);
        await using var gateway = await GatewayTestHost.StartAsync(config);

        using var direct = await new HttpClient().GetAsync(new Uri(catalog.Address, "/api/products/42"), TestContext.Current.CancellationToken);
        using var proxied = await gateway.Client.GetAsync("/api/products/42", TestContext.Current.CancellationToken);

        Assert.Equal((HttpStatusCode)203, proxied.StatusCode);
        Assert.Equal(await direct.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), await proxied.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("\"v7\"", proxied.Headers.ETag?.Tag);
        Assert.Equal("catalog", Assert.Single(proxied.Headers.GetValues("X-Backend")));
        Assert.Equal("public, max-age=30", proxied.Headers.CacheControl?.ToString());
        Assert.Equal(direct.Content.Headers.ContentType, proxied.Content.Headers.ContentType);
        Assert.Equal(2, catalog.RequestCount);
        Assert.Equal(0, weather.RequestCount);

        using var weatherResponse = await gateway.Client.GetAsync("/api/weather", TestContext.Current.CancellationToken);
        Assert.Equal("sunny", await weatherResponse.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(1, weather.RequestCount);
    }

    [Fact]
    public async Task Get_ThroughGateway_SetsForwardedHeadersAndRequestId()
    {
        await using var backend = await TestBackend.StartAsync("echo", app => app.MapGet("/echo/headers", (HttpRequest request) =>
            Results.Json(request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()))));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("echo", backend.Address));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/echo/headers");
        request.Headers.Add("X-Forwarded-For", "6.6.6.6");
        using var response = await gateway.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>(TestContext.Current.CancellationToken);

        Assert.NotNull(seen);
        Assert.Equal("127.0.0.1", seen["x-forwarded-for"]);
        Assert.Equal("http", seen["x-forwarded-proto"]);
        Assert.Equal(gateway.Client.BaseAddress!.Authority, seen["x-forwarded-host"]);
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.Matches("^[0-9a-f]{32}$", requestId);
        Assert.Equal(requestId, seen["x-request-id"]);
    }

    [Theory]
    [InlineData("order-123_abc.4:5", true)]
    [InlineData("bad id with spaces", false)]
    [InlineData("<script>", false)]
    public async Task RequestId_FromClient_IsKeptOnlyWhenWellFormed(string sent, bool kept)
    {
        await using var backend = await TestBackend.StartAsync("echo", app => app.MapGet("/echo/id", (HttpRequest request) => request.Headers["X-Request-Id"].ToString()));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("echo", backend.Address));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/echo/id");
        request.Headers.TryAddWithoutValidation("X-Request-Id", sent);
        using var response = await gateway.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var upstreamSaw = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var echoed = Assert.Single(response.Headers.GetValues("X-Request-Id"));

        Assert.Equal(echoed, upstreamSaw);
        Assert.Equal(kept, echoed == sent);
    }

    [Fact]
    public async Task UnknownRoute_Gets404ProblemJson_AndNoServiceIsCalled()
    {
        await using var backend = await TestBackend.StartAsync("svc");
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("svc", backend.Address));

        using var response = await gateway.Client.GetAsync("/nowhere/at/all", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(404, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains("/nowhere/at/all", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, backend.RequestCount);
    }

    [Fact]
    public async Task DeadCluster_Gets502ProblemJson_NamingTheCluster()
    {
        var deadPort = Ports.GetFreeTcpPort();
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("svc", new Uri($"http://127.0.0.1:{deadPort}/")));

        using var response = await gateway.Client.GetAsync("/svc/x", TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable, $"got {(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("'svc'", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }
}
