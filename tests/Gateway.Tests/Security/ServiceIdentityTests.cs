using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Security;

/// <summary>
/// Issue 27, gap 11 (RFC 8707): the gateway's own tokens are one per target service. A composition step marked
/// <c>"Identity": "service"</c> is sent with a token asked for with the <c>resource</c> its cluster names
/// (<c>Portico.Resource</c> metadata), each kept until shortly before it expires.
/// </summary>
public sealed class ServiceIdentityTests
{
    private const string Secret = "s3cret-for-tests-only-0123456789ab";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ServiceSteps_GetATokenPerResource_FetchedOnceEach()
    {
        var requested = new ConcurrentQueue<string>();
        await using var identity = await TestBackend.StartAsync("identity", app => app.MapPost("/api/auth/token", async (HttpRequest r) =>
        {
            using var body = await JsonDocument.ParseAsync(r.Body);
            var resource = body.RootElement.TryGetProperty("resource", out var value) ? value.GetString()! : "(none)";
            requested.Enqueue(resource);
            return body.RootElement.GetProperty("client_secret").GetString() == Secret
                ? Results.Json(new { access_token = "token-for-" + resource, token_type = "Bearer", expires_in = 900 })
                : Results.Unauthorized();
        }), Ct);
        await using var loyalty = await EchoAuthorizationAsync("loyalty");
        await using var ordering = await EchoAuthorizationAsync("ordering");
        await using var plain = await EchoAuthorizationAsync("plain");

        var config = new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject(),
                ["Clusters"] = new JsonObject
                {
                    ["loyalty"] = Cluster(loyalty.Address, "urn:portico:loyalty"),
                    ["ordering"] = Cluster(ordering.Address, "urn:portico:ordering"),
                    ["plain"] = Cluster(plain.Address, resource: null),
                },
            },
            ["Portico"] = new JsonObject
            {
                ["Compositions"] = JsonNode.Parse("""
                { "both": { "Method": "GET", "Path": "/both", "AuthorizationPolicy": "anonymous", "Steps": {
                    "loyalty": { "Cluster": "loyalty", "Path": "/whoami", "Identity": "service" },
                    "ordering": { "Cluster": "ordering", "Path": "/whoami", "Identity": "service" },
                    "plain": { "Cluster": "plain", "Path": "/whoami", "Identity": "service" } },
                  "Response": { "loyalty": "{{steps.loyalty.body}}", "ordering": "{{steps.ordering.body}}", "plain": "{{steps.plain.body}}" } } }
                """),
            },
        };
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString(), new Dictionary<string, string?>
        {
            ["Portico:ServiceIdentity:TokenUrl"] = new Uri(identity.Address, "/api/auth/token").ToString(),
            ["Portico:ServiceIdentity:ClientSecret"] = Secret,
        });

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.Client.GetAsync("/both", Ct);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Bearer token-for-urn:portico:loyalty", (string?)body["loyalty"]!["authorization"]);
            Assert.Equal("Bearer token-for-urn:portico:ordering", (string?)body["ordering"]!["authorization"]);
            Assert.Equal("Bearer token-for-(none)", (string?)body["plain"]!["authorization"]); // no resource named: none asked for
        }
        Assert.Equal(["(none)", "urn:portico:loyalty", "urn:portico:ordering"], requested.Order(StringComparer.Ordinal));
    }

    private static JsonObject Cluster(Uri address, string? resource)
    {
        var cluster = new JsonObject { ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = address.ToString() } } };
        if (resource is not null)
        {
            cluster["Metadata"] = new JsonObject { ["Portico.Resource"] = resource };
        }
        return cluster;
    }

    private static Task<TestBackend> EchoAuthorizationAsync(string name) =>
        TestBackend.StartAsync(name, app => app.MapGet("/whoami", (HttpRequest r) => Results.Json(new { authorization = r.Headers.Authorization.ToString() })), Ct);
}
