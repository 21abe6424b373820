using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Security;

public sealed class RateLimitingTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Config(Uri backend, params (string Route, string Policy)[] routes)
    {
        var node = JsonNode.Parse(GatewayJson.Create([], [("svc", [backend])]))!;
        foreach (var (route, policy) in routes)
        {
            node["ReverseProxy"]!["Routes"]![route] = new JsonObject
            {
                ["ClusterId"] = "svc",
                ["AuthorizationPolicy"] = "anonymous",
                ["RateLimiterPolicy"] = policy,
                ["Match"] = new JsonObject { ["Path"] = $"/{route}/{{**rest}}" },
            };
        }
        return node.ToJsonString();
    }

    private static Dictionary<string, string?> Policy(string name, string kind, int limit, string window, bool shared = false, string failMode = "Open") => new()
    {
        [$"Portico:RateLimiting:Policies:{name}:Kind"] = kind,
        [$"Portico:RateLimiting:Policies:{name}:PermitLimit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [$"Portico:RateLimiting:Policies:{name}:Window"] = window,
        [$"Portico:RateLimiting:Policies:{name}:ReplenishmentPeriod"] = window,
        [$"Portico:RateLimiting:Policies:{name}:TokensPerPeriod"] = "1",
        [$"Portico:RateLimiting:Policies:{name}:PartitionBy"] = "ClientAddress",
        [$"Portico:RateLimiting:Policies:{name}:Shared"] = shared ? "true" : "false",
        [$"Portico:RateLimiting:Policies:{name}:FailMode"] = failMode,
    };

    [Fact]
    public async Task InMemoryTokenBucket_OverTheLimit_Gets429ProblemWithRetryAfter_AndTheServiceSeesOnlyTheAllowed()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, ("limited", "bucket")), Policy("bucket", "TokenBucket", 5, "01:00:00"));

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? rejected = null;
        for (var i = 0; i < 8; i++)
        {
            var response = await gateway.Client.GetAsync("/limited/x", Ct);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                rejected ??= response;
            }
        }

        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.NotNull(rejected);
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(rejected.Headers.RetryAfter);
        Assert.Equal(5, backend.RequestCount);
    }

    [Fact]
    public async Task TwoGateways_SharingOneStore_EnforceOneCombinedLimit()
    {
        using var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        var settings = Policy("shared", "FixedWindow", 100, "01:00:00", shared: true);
        settings["ConnectionStrings:store"] = store.ConnectionString;
        await using var first = await GatewayTestHost.StartAsync(Config(backend.Address, ("limited", "shared")), settings);
        await using var second = await GatewayTestHost.StartAsync(Config(backend.Address, ("limited", "shared")), settings);

        var allowed = 0;
        await Parallel.ForAsync(0, 300, new ParallelOptions { MaxDegreeOfParallelism = 6, CancellationToken = Ct }, async (i, ct) =>
        {
            var gateway = i % 2 == 0 ? first : second;
            using var response = await gateway.Client.GetAsync("/limited/x", ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref allowed);
            }
            else
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            }
        });

        output.WriteLine($"300 requests over two gateway instances, shared limit 100: {allowed} allowed, {300 - allowed} refused");
        Assert.InRange(allowed, 95, 105);
        Assert.Equal(allowed, backend.RequestCount);
    }

    [Fact]
    public async Task StoreDown_FailOpenLetsRequestsThrough_FailClosedRefusesWith503()
    {
        var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapGet("/open/x", () => "ok");
            app.MapGet("/closed/x", () => "ok");
        });
        var settings = Policy("lenient", "SlidingWindow", 1000, "00:01:00", shared: true, failMode: "Open");
        foreach (var (k, v) in Policy("strict", "SlidingWindow", 1000, "00:01:00", shared: true, failMode: "Closed"))
        {
            settings[k] = v;
        }
        settings["ConnectionStrings:store"] = store.ConnectionString;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, ("open", "lenient"), ("closed", "strict")), settings);

        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/open/x", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/closed/x", Ct)).StatusCode);

        store.Dispose();
        await Task.Delay(500, Ct);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/open/x", Ct)).StatusCode);
            using var closed = await gateway.Client.GetAsync("/closed/x", Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, closed.StatusCode);
            Assert.Equal("application/problem+json", closed.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(closed.Headers.RetryAfter);
        }
    }
}
