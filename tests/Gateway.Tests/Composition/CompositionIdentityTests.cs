using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Tests.Transcoding;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Composition;

/// <summary>
/// Who the caller is, as a composition's steps tell services: the validated token's subject and roles as
/// <c>X-User-Id</c>/<c>X-User-Roles</c> on HTTP steps and <c>x-user-id</c>/<c>x-user-roles</c> metadata on gRPC steps,
/// as proxied requests carry them; never what the client sent, not even through a step's header template. Both services
/// are real (Kestrel on port 0, a Grpc.AspNetCore service) and record what they received.
/// </summary>
public sealed class CompositionIdentityTests(ITestOutputHelper output)
{
    private const string Service = "portico.test.v1.Things";

    // W3C Trace Context §3.2: the example value of the specification.
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>What the HTTP service received: every value of each header the test looks at.</summary>
    private readonly ConcurrentQueue<IHeaderDictionary> _received = new();

    /// <summary>The two services and the gateway in front of them, stopped together.</summary>
    private sealed record Hosts(TestBackend Svc, ThingsServer Things, GatewayTestHost Gateway) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            await Things.DisposeAsync();
            await Svc.DisposeAsync();
        }
    }

    private async Task<Hosts> StartAsync(string? authorizationPolicy)
    {
        var svc = await TestBackend.StartAsync("svc", app => app.MapGet("/profile", (HttpContext context) =>
        {
            _received.Enqueue(new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase)));
            return Results.Json(new { name = "p" });
        }), Ct);
        var things = await ThingsServer.StartAsync();
        var config = JsonNode.Parse(DynamicTranscodingTests.Config(things.Address))!;
        config["ReverseProxy"]!["Clusters"]!["svc"] = new JsonObject { ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = svc.Address.ToString() } } };
        var composition = JsonNode.Parse($$$"""
        { "Path": "/api/who/{id}", "Steps": {
            "profile": { "Cluster": "svc", "Path": "/profile", "Headers": { "X-User-Id": "{{request.headers.X-User-Id}}", "X-User-Roles": "{{request.headers.X-User-Roles}}" } },
            "thing": { "Cluster": "things", "Grpc": "{{{Service}}}/GetThing", "Body": { "id": "{{request.route.id}}" } } } }
        """)!;
        // The step's Headers template copies the client's X-User-Id: a careless gateway file must not let the client name itself.
        composition["AuthorizationPolicy"] = authorizationPolicy;
        config["Portico"]!["Compositions"] = new JsonObject { ["who"] = composition };
        return new Hosts(svc, things, await GatewayTestHost.StartAsync(config.ToJsonString()));
    }

    [Fact]
    public async Task HttpAndGrpcSteps_CarryTheValidatedCallersIdAndRoles_NotTheOnesTheClientSent_AndTheTraceContext()
    {
        await using var hosts = await StartAsync(authorizationPolicy: null);
        var (gateway, things) = (hosts.Gateway, hosts.Things);
        var token = gateway.Tokens.CreateToken("user-5", roles: ["customer", "tester"]);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/who/3");
        request.Headers.Authorization = new("Bearer", token);
        request.Headers.Add("X-User-Id", "admin");
        request.Headers.Add("X-User-Roles", "admin");
        request.Headers.Add("traceparent", $"00-{TraceId}-b7ad6b7169203331-01");
        using var response = await gateway.Client.SendAsync(request, Ct);

        output.WriteLine(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var http = Assert.Single(_received);
        output.WriteLine(string.Join("\n", http.Select(h => $"{h.Key}: {h.Value}")));
        Assert.Equal(["user-5"], http["X-User-Id"].ToArray());
        Assert.Equal(["customer,tester"], http["X-User-Roles"].ToArray());
        Assert.Equal("Bearer " + token, http.Authorization.ToString());
        Assert.Matches($"^00-{TraceId}-[0-9a-f]{{16}}-0[01]$", http["traceparent"].ToString());

        var grpc = Assert.Single(things.Service.Headers);
        output.WriteLine(string.Join("\n", grpc.Select(h => $"{h.Key}: {h.Value}")));
        Assert.Equal("user-5", Assert.Single(grpc, h => h.Key == "x-user-id").Value);
        Assert.Equal("customer,tester", Assert.Single(grpc, h => h.Key == "x-user-roles").Value);
        Assert.Matches($"^00-{TraceId}-[0-9a-f]{{16}}-0[01]$", grpc.GetValue("traceparent"));
    }

    [Fact]
    public async Task AnonymousCaller_WhoSendsAnXUserId_StepsCarryNoUserIdAtAll()
    {
        await using var hosts = await StartAsync(authorizationPolicy: "anonymous");
        var (gateway, things) = (hosts.Gateway, hosts.Things);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/who/3");
        request.Headers.Add("X-User-Id", "admin");
        request.Headers.Add("X-User-Roles", "admin");
        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var http = Assert.Single(_received);
        Assert.False(http.ContainsKey("X-User-Id"), $"X-User-Id: {http["X-User-Id"]}");
        Assert.False(http.ContainsKey("X-User-Roles"), $"X-User-Roles: {http["X-User-Roles"]}");
        var grpc = Assert.Single(things.Service.Headers);
        Assert.DoesNotContain(grpc, h => h.Key is "x-user-id" or "x-user-roles");
    }
}
