using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Portico.Gateway.Configuration;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Security;

/// <summary>CORS policies of the gateway file (<c>Portico:Cors:Policies</c>), named by a route's <c>CorsPolicy</c>, reloaded with the file.</summary>
public sealed class CorsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string File(Uri backend, string corsPolicies, string routePolicy = "shop")
    {
        var node = JsonNode.Parse(GatewayJson.Create([("api", "/api/{**rest}", "svc")], [("svc", [backend])]))!;
        node["ReverseProxy"]!["Routes"]!["api"]!["CorsPolicy"] = routePolicy;
        node["Portico"] = JsonNode.Parse($$"""{ "Cors": { "Policies": {{corsPolicies}} } }""");
        return node.ToJsonString();
    }

    private static async Task<bool> AllowsAsync(GatewayTestHost gateway, string origin)
    {
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/x");
        preflight.Headers.Add("Origin", origin);
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        using var response = await gateway.Client.SendAsync(preflight, Ct);
        return response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) && values.Single() == origin;
    }

    [Theory]
    [InlineData("https://shop.example", true)]
    [InlineData("https://evil.example", false)]
    public async Task Preflight_OnARouteWithACorsPolicy_AllowsOnlyConfiguredOrigins(string origin, bool allowed)
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(File(backend.Address, """{ "shop": { "Origins": [ "https://shop.example" ] } }"""));

        Assert.Equal(allowed, await AllowsAsync(gateway, origin));
        Assert.Equal(0, backend.RequestCount); // a preflight is answered at the edge
    }

    [Fact]
    public async Task EditedPolicy_AppliesWithoutRestart()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(File(backend.Address, """{ "shop": { "Origins": [ "https://shop.example" ] } }"""));
        Assert.False(await AllowsAsync(gateway, "https://new.example"));

        await gateway.WriteConfigAsync(File(backend.Address, """{ "shop": { "Origins": [ "https://new.example" ] } }"""));

        await Poll.UntilAsync(() => AllowsAsync(gateway, "https://new.example"), "the edited origin to be admitted");
        Assert.False(await AllowsAsync(gateway, "https://shop.example"));
    }

    [Fact]
    public async Task InvalidPolicies_AndARouteNamingAMissingOne_FailStartUp_NamingEach()
    {
        const string policies = """
            {
              "withPath": { "Origins": [ "https://shop.example/path" ] },
              "open": { "Origins": [ "*" ], "AllowCredentials": true },
              "negative": { "Origins": [ "https://shop.example" ], "MaxAge": "-00:00:01" }
            }
            """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(File(new Uri("http://127.0.0.1:1/"), policies, "nowhere")));

        Assert.Contains(ex.Errors, e => e.StartsWith("Portico:Cors:Policies:withPath:Origins has 'https://shop.example/path'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("Portico:Cors:Policies:open: '*' cannot be combined with AllowCredentials", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("Portico:Cors:Policies:negative:MaxAge", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("Route 'api' names CORS policy 'nowhere'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PoliciesLeftInTheHostSettings_FailStartUp_NamingTheirNewHome()
    {
        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(
            File(new Uri("http://127.0.0.1:1/"), """{ "shop": { "Origins": [ "https://shop.example" ] } }"""),
            new Dictionary<string, string?> { ["Portico:Security:Cors:shop:Origins:0"] = "https://shop.example" }));

        Assert.Contains(ex.Errors, e => e.Contains("Portico:Security:Cors", StringComparison.Ordinal) && e.Contains("Portico:Cors:Policies", StringComparison.Ordinal));
    }
}
