using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Security;

public sealed class CorsTests
{
    [Theory]
    [InlineData("https://shop.example", true)]
    [InlineData("https://evil.example", false)]
    public async Task Preflight_OnARouteWithACorsPolicy_AllowsOnlyConfiguredOrigins(string origin, bool allowed)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/x", () => "ok"));
        var node = JsonNode.Parse(GatewayJson.Create([("api", "/api/{**rest}", "svc")], [("svc", [backend.Address])]))!;
        node["ReverseProxy"]!["Routes"]!["api"]!["CorsPolicy"] = "shop";
        await using var gateway = await GatewayTestHost.StartAsync(node.ToJsonString(), new Dictionary<string, string?>
        {
            ["Portico:Security:Cors:shop:Origins:0"] = "https://shop.example",
        });

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/x");
        preflight.Headers.Add("Origin", origin);
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        using var response = await gateway.Client.SendAsync(preflight, ct);

        Assert.Equal(allowed, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin);
        Assert.Equal(0, backend.RequestCount);
    }
}
