using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Time.Testing;
using Portico.Gateway.Configuration;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.RateLimiting;

public sealed class RateLimitingTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A gateway file whose routes <c>/{route}/…</c> name their policy with <c>Portico.RateLimit</c> (null: none).</summary>
    internal static string Config(Uri backend, IEnumerable<(string Route, string? Policy)> routes, params Dictionary<string, object>[] policies)
    {
        var node = JsonNode.Parse(GatewayJson.Create([], [("svc", [backend])]))!;
        foreach (var (route, policy) in routes)
        {
            node["ReverseProxy"]!["Routes"]![route] = new JsonObject
            {
                ["ClusterId"] = "svc",
                ["AuthorizationPolicy"] = "anonymous",
                ["Metadata"] = policy is null ? new JsonObject() : new JsonObject { ["Portico.RateLimit"] = policy },
                ["Match"] = new JsonObject { ["Path"] = $"/{route}/{{**rest}}" },
            };
        }
        var named = new JsonObject();
        foreach (var policy in policies)
        {
            named[(string)policy["Name"]] = JsonSerializer.SerializeToNode(policy.Where(p => p.Key != "Name").ToDictionary());
        }
        node["Portico"] = new JsonObject { ["RateLimiting"] = new JsonObject { ["Policies"] = named } };
        return node.ToJsonString();
    }

    internal static Dictionary<string, object> Policy(string name, string kind, int limit, string window, bool shared = false, string failMode = "Open") => new()
    {
        ["Name"] = name,
        ["Kind"] = kind,
        ["PermitLimit"] = limit,
        ["Window"] = window,
        ["ReplenishmentPeriod"] = window,
        ["TokensPerPeriod"] = 1,
        ["PartitionBy"] = "ClientAddress",
        ["Shared"] = shared,
        ["FailMode"] = failMode,
    };

    [Fact]
    public async Task InMemoryTokenBucket_OverTheLimit_Gets429ProblemWithRetryAfter_AndTheServiceSeesOnlyTheAllowed()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, [("limited", "bucket")], Policy("bucket", "TokenBucket", 5, "01:00:00")));

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
    public async Task PolicyEditedInTheGatewayFile_AppliesWithoutRestart_AndARemovedPolicyStopsApplying()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, [("limited", "tight")], Policy("tight", "TokenBucket", 2, "01:00:00")));
        async Task<HttpStatusCode> Get() => (await gateway.Client.GetAsync("/limited/x", Ct)).StatusCode;

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], [await Get(), await Get(), await Get()]);

        // Raised to five: the edit shows when a request passes again, and from then on the limit is five, not two.
        await gateway.WriteConfigAsync(Config(backend.Address, [("limited", "tight")], Policy("tight", "TokenBucket", 5, "01:00:00")));
        await Poll.UntilAsync(async () => await Get() == HttpStatusCode.OK, "the raised limit to apply");
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            [await Get(), await Get(), await Get(), await Get(), await Get()]);

        // The route no longer names a policy, and the policy is gone: nothing limits it any more.
        await gateway.WriteConfigAsync(Config(backend.Address, [("limited", null)]));
        await Poll.UntilAsync(async () => await Get() == HttpStatusCode.OK, "the removed policy to stop applying");
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await Get());
        }
    }

    [Fact]
    public async Task EditNamingAnUnknownPolicy_IsRefused_AndTheLimitInForceStays()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, [("limited", "tight")], Policy("tight", "TokenBucket", 1, "01:00:00")));

        await gateway.WriteConfigAsync(Config(backend.Address, [("limited", "missing")], Policy("tight", "TokenBucket", 1, "01:00:00")));
        await HotReloadTests.UntilRejectedAsync(gateway, 1);

        Assert.Contains(gateway.Logs.GetSnapshot(), r => r.Message.Contains("Route 'limited' uses unknown rate-limit policy 'missing'", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/limited/x", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await gateway.Client.GetAsync("/limited/x", Ct)).StatusCode);
    }

    [Fact]
    public async Task Start_WithAFilePolicyNamedByYarpsRateLimiterPolicy_FailsSayingWhereToNameIt()
    {
        var json = JsonNode.Parse(Config(new Uri("http://127.0.0.1:1/"), [("limited", null)], Policy("tight", "TokenBucket", 1, "01:00:00")))!;
        json["ReverseProxy"]!["Routes"]!["limited"]!["RateLimiterPolicy"] = "tight";

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(json.ToJsonString()));

        Assert.Contains(ex.Errors, e => e.Contains("Route 'limited' names rate-limit policy 'tight'", StringComparison.Ordinal)
            && e.Contains("\"Portico.RateLimit\": \"tight\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoGateways_SharingOneStore_EnforceOneCombinedLimit()
    {
        using var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        var config = Config(backend.Address, [("limited", "shared")], Policy("shared", "FixedWindow", 100, "01:00:00", shared: true));
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString };
        await using var first = await GatewayTestHost.StartAsync(config, settings);
        await using var second = await GatewayTestHost.StartAsync(config, settings);

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

    /// <summary>
    /// The shared window is counted by the gateway's clock, so the test moves the clock rather than waiting a window out.
    /// (The in-memory kinds are System.Threading.RateLimiting's, timed by their own stopwatch; their tests use windows
    /// that cannot pass during a test.)
    /// </summary>
    [Fact]
    public async Task SharedFixedWindow_RefusesUntilTheClockPassesTheWindow_ThenAdmitsAgain()
    {
        using var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/limited/x", () => "ok"));
        var clock = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var gateway = await GatewayTestHost.StartAsync(
            Config(backend.Address, [("limited", "window")], Policy("window", "FixedWindow", 2, "00:01:00", shared: true)),
            clock, new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString });
        async Task<HttpResponseMessage> Get() => await gateway.Client.GetAsync("/limited/x", Ct);

        Assert.Equal(HttpStatusCode.OK, (await Get()).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal(HttpStatusCode.OK, (await Get()).StatusCode);
        using var refused = await Get();
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(10), refused.Headers.RetryAfter?.Delta);

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await Get()).StatusCode);
        Assert.Equal(3, backend.RequestCount);
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
        var config = Config(backend.Address, [("open", "lenient"), ("closed", "strict")],
            Policy("lenient", "SlidingWindow", 1000, "00:01:00", shared: true, failMode: "Open"),
            Policy("strict", "SlidingWindow", 1000, "00:01:00", shared: true, failMode: "Closed"));
        await using var gateway = await GatewayTestHost.StartAsync(config, new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString });

        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/open/x", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/closed/x", Ct)).StatusCode);

        store.Dispose();
        await Poll.UntilAsync(async () => (await gateway.Client.GetAsync("/closed/x", Ct)).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the closed policy to notice the store is gone");

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
