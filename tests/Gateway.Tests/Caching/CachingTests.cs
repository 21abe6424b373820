using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Caching;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Caching;

public sealed class CachingTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Result(HttpResponseMessage response) =>
        response.Headers.TryGetValues(CachePolicies.ResultHeader, out var v) ? v.Single() : "(none)";

    [Fact]
    public async Task HundredConcurrentGets_ForOneColdKey_SendOneRequestUpstream_AndAllGetTheBody()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/item", async () =>
        {
            await Task.Delay(300);
            return Results.Text("the body", "text/plain");
        }));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:01:00" }));

        var results = new System.Collections.Concurrent.ConcurrentBag<(string Body, string Result)>();
        await Parallel.ForAsync(0, 100, new ParallelOptions { MaxDegreeOfParallelism = 100, CancellationToken = Ct }, async (_, ct) =>
        {
            using var response = await gateway.Client.GetAsync("/api/item", ct);
            results.Add((await response.Content.ReadAsStringAsync(ct), Result(response)));
        });

        output.WriteLine($"upstream requests: {backend.HitsFor("/api/item")}; results: " +
            string.Join(", ", results.GroupBy(r => r.Result).Select(g => $"{g.Key}={g.Count()}")));
        Assert.Equal(1, backend.HitsFor("/api/item"));
        Assert.All(results, r => Assert.Equal("the body", r.Body));
        Assert.Equal(1, results.Count(r => r.Result == "MISS"));
    }

    [Fact]
    public async Task Hit_ServesFromCacheWithAge_AndQueryValuesAreDifferentEntries()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/echo", (string q) => Results.Text("q=" + q)));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:01:00" }));

        using var first = await gateway.Client.GetAsync("/api/echo?q=a", Ct);
        using var second = await gateway.Client.GetAsync("/api/echo?q=a", Ct);
        using var other = await gateway.Client.GetAsync("/api/echo?q=b", Ct);
        using var head = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/api/echo?q=a"), Ct);

        Assert.Equal("MISS", Result(first));
        Assert.Equal("HIT", Result(second));
        Assert.True(second.Headers.Age.HasValue);
        Assert.Equal("q=a", await second.Content.ReadAsStringAsync(Ct));
        Assert.Equal("MISS", Result(other));
        Assert.Equal("q=b", await other.Content.ReadAsStringAsync(Ct));
        Assert.Equal("HIT", Result(head));
        Assert.Equal(2, backend.HitsFor("/api/echo"));
        Assert.Equal(2, CountedResults(gateway, "hit"));
        Assert.Equal(2, CountedResults(gateway, "miss"));
    }

    /// <summary>What the gateway's <c>portico.gateway.cache.requests</c> counter says for one result.</summary>
    private static long CountedResults(GatewayTestHost gateway, string result)
    {
        var meters = gateway.Services.GetRequiredService<IMeterFactory>();
        long total = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "portico.gateway.cache.requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "result" && (string?)tag.Value == result)
                {
                    total += value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return total;
    }

    [Fact]
    public async Task PrivatePolicy_UserAsAnswer_IsNeverServedToUserB()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/mine", (HttpRequest r) =>
        {
            r.HttpContext.Response.Headers.CacheControl = "private, max-age=60";
            return Results.Text("for " + r.Headers["X-User-Id"]);
        }));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:01:00", Scope = "Private" }, authorizationPolicy: null));
        var tokenA = gateway.Tokens.CreateToken("alice");
        var tokenB = gateway.Tokens.CreateToken("bob");

        async Task<(string Body, string Result)> Get(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/mine");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await gateway.Client.SendAsync(request, Ct);
            return (await response.Content.ReadAsStringAsync(Ct), Result(response));
        }

        Assert.Equal(("for alice", "MISS"), await Get(tokenA));
        Assert.Equal(("for alice", "HIT"), await Get(tokenA));
        Assert.Equal(("for bob", "MISS"), await Get(tokenB));
        Assert.Equal(("for bob", "HIT"), await Get(tokenB));
        Assert.Equal(2, backend.HitsFor("/api/mine"));
    }

    [Theory]
    [InlineData("no-store")]
    [InlineData("set-cookie")]
    [InlineData("private-on-public-policy")]
    [InlineData("vary-star")]
    [InlineData("status-500")]
    public async Task UncacheableAnswers_AreNeverStored(string kind)
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/x", (HttpContext c) =>
        {
            switch (kind)
            {
                case "no-store": c.Response.Headers.CacheControl = "no-store"; break;
                case "set-cookie": c.Response.Headers.SetCookie = "session=secret"; break;
                case "private-on-public-policy": c.Response.Headers.CacheControl = "private"; break;
                case "vary-star": c.Response.Headers.Vary = "*"; break;
                case "status-500": return Results.StatusCode(500);
            }
            return Results.Text("x");
        }));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:01:00" }));

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.Client.GetAsync("/api/x", Ct);
            Assert.Equal("MISS", Result(response));
        }
        Assert.Equal(3, backend.HitsFor("/api/x"));
    }

    [Fact]
    public async Task UpstreamStopped_StaleIsServedWithinStaleIfError_Then5xxAfterIt()
    {
        var backend = await TestBackend.StartAsync("weather", app => app.MapGet("/weather/seoul", () => Results.Text("sunny")));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("weather", backend.Address, new { Ttl = "00:00:01", StaleIfError = "00:00:03" }));

        Assert.Equal("MISS", Result(await gateway.Client.GetAsync("/weather/seoul", Ct)));
        await backend.KillAsync();
        await backend.DisposeAsync();
        await Task.Delay(1300, Ct);

        using var stale = await gateway.Client.GetAsync("/weather/seoul", Ct);
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Equal("STALE", Result(stale));
        Assert.Equal("sunny", await stale.Content.ReadAsStringAsync(Ct));

        await Task.Delay(3000, Ct);
        using var gone = await gateway.Client.GetAsync("/weather/seoul", Ct);
        output.WriteLine($"within stale-if-error: {(int)stale.StatusCode} {Result(stale)}; after it: {(int)gone.StatusCode} {Result(gone)}");
        Assert.True((int)gone.StatusCode is 502 or 503 or 504, $"got {(int)gone.StatusCode}");
        Assert.Equal("application/problem+json", gone.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task StaleWhileRevalidate_ServesStaleAtOnce_AndRefreshesOnceNotPerRequest()
    {
        var version = 0;
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/v", async () =>
        {
            var v = Interlocked.Increment(ref version);
            await Task.Delay(200);
            return Results.Text("v" + v);
        }));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:00:01", StaleWhileRevalidate = "00:00:30" }));

        Assert.Equal("v1", await gateway.Client.GetStringAsync("/api/v", Ct));
        await Task.Delay(1200, Ct);

        var results = new System.Collections.Concurrent.ConcurrentBag<(string Body, string Result)>();
        await Parallel.ForAsync(0, 30, new ParallelOptions { MaxDegreeOfParallelism = 30, CancellationToken = Ct }, async (_, ct) =>
        {
            using var response = await gateway.Client.GetAsync("/api/v", ct);
            results.Add((await response.Content.ReadAsStringAsync(ct), Result(response)));
        });
        Assert.All(results, r => Assert.Equal(("v1", "STALE"), r));

        string refreshed = "";
        for (var i = 0; i < 50 && refreshed != "v2"; i++)
        {
            await Task.Delay(100, Ct);
            refreshed = await gateway.Client.GetStringAsync("/api/v", Ct);
        }
        output.WriteLine($"30 stale reads caused {backend.HitsFor("/api/v") - 1} upstream refresh(es); refreshed body {refreshed}");
        Assert.Equal("v2", refreshed);
        Assert.Equal(2, backend.HitsFor("/api/v"));
    }

    [Fact]
    public async Task TwoGateways_SharingTheStore_MissOnOneIsHitOnOther_PurgeOnOneClearsBoth()
    {
        using var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/p", () => Results.Text("product")));
        var json = CacheJson.Create("api", backend.Address, new { Ttl = "00:05:00", Tags = new[] { "products" } });
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString };
        await using var first = await GatewayTestHost.StartAsync(json, settings);
        await using var second = await GatewayTestHost.StartAsync(json, settings);

        Assert.Equal("MISS", Result(await first.Client.GetAsync("/api/p", Ct)));
        Assert.Equal("HIT", Result(await second.Client.GetAsync("/api/p", Ct)));
        Assert.Equal("HIT", Result(await first.Client.GetAsync("/api/p", Ct)));
        Assert.Equal(1, backend.HitsFor("/api/p"));

        using var purge = new HttpRequestMessage(HttpMethod.Delete, "/portico/api/cache?tag=products");
        purge.Headers.Authorization = new AuthenticationHeaderValue("Bearer", first.Tokens.CreateToken("ops", ["admin"]));
        using var purged = await first.Client.SendAsync(purge, Ct);
        Assert.Equal(HttpStatusCode.OK, purged.StatusCode);
        await Task.Delay(300, Ct); // the purge reaches the other instance over pub/sub

        Assert.Equal("MISS", Result(await second.Client.GetAsync("/api/p", Ct)));
        Assert.Equal("HIT", Result(await first.Client.GetAsync("/api/p", Ct)));
        Assert.Equal(2, backend.HitsFor("/api/p"));
    }

    [Fact]
    public async Task MemoryTier_FilledWithLargeEntries_StaysUnderItsSize()
    {
        const int limit = 1024 * 1024;
        var big = new string('x', 100 * 1024);
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/big/{n}", (int n) => Results.Text(big)));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:05:00" }),
            new Dictionary<string, string?> { ["Portico:Caching:MemoryLimitBytes"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        for (var i = 0; i < 40; i++)
        {
            using var response = await gateway.Client.GetAsync($"/api/big/{i}", Ct);
            Assert.Equal(big.Length, (await response.Content.ReadAsByteArrayAsync(Ct)).Length);
        }
        var held = gateway.Services.GetRequiredService<CacheTiers>().MemoryBytes;

        output.WriteLine($"40 answers of 100 KiB into a 1 MiB memory tier: {held} bytes held");
        Assert.InRange(held, 1, limit);
    }

    [Fact]
    public async Task PostToACachedRoute_Bypasses()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapPost("/api/x", () => Results.Text("posted")));
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", backend.Address, new { Ttl = "00:01:00" }));

        using var response = await gateway.Client.PostAsync("/api/x", new StringContent("{}"), Ct);
        using var again = await gateway.Client.PostAsync("/api/x", new StringContent("{}"), Ct);

        Assert.Equal("BYPASS", Result(again));
        Assert.Equal(2, backend.HitsFor("/api/x"));
    }

    /// <summary>
    /// Fresh public hits on anonymous routes are served straight after routing; these hits must still pass the
    /// step each case names: a route that needs a token, a rate limit, a CORS origin.
    /// </summary>
    [Fact]
    public async Task Hits_StillPassAuthorization_RateLimits_AndCors()
    {
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapGet("/api/x", () => Results.Text("x"));
            app.MapGet("/auth/x", () => Results.Text("x"));
        });
        var node = System.Text.Json.Nodes.JsonNode.Parse(CacheJson.Create("api", backend.Address, new { Ttl = "00:01:00" }))!;
        var routes = node["ReverseProxy"]!["Routes"]!;
        routes["api"]!["Metadata"]!["Portico.RateLimit"] = "two";
        routes["api"]!["CorsPolicy"] = "shop";
        routes["auth"] = System.Text.Json.Nodes.JsonNode.Parse(routes["api"]!.ToJsonString())!;
        routes["auth"]!["AuthorizationPolicy"] = null;
        routes["auth"]!["Metadata"]!.AsObject().Remove("Portico.RateLimit");
        routes["auth"]!["Match"]!["Path"] = "/auth/{**rest}";
        node["Portico"]!["RateLimiting"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "Policies": { "two": { "Kind": "FixedWindow", "PermitLimit": 2, "Window": "01:00:00" } } }""");
        node["Portico"]!["Cors"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "Policies": { "shop": { "Origins": [ "https://shop.example" ] } } }""");
        await using var gateway = await GatewayTestHost.StartAsync(node.ToJsonString());

        using var signedIn = new HttpRequestMessage(HttpMethod.Get, "/auth/x");
        signedIn.Headers.Authorization = new AuthenticationHeaderValue("Bearer", gateway.Tokens.CreateToken("alice"));
        using var stored = await gateway.Client.SendAsync(signedIn, Ct);
        using var anonymous = await gateway.Client.GetAsync("/auth/x", Ct);
        Assert.Equal("MISS", Result(stored));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var miss = await gateway.Client.GetAsync("/api/x", Ct);
        using var withOrigin = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        withOrigin.Headers.Add("Origin", "https://shop.example");
        using var hit = await gateway.Client.SendAsync(withOrigin, Ct);
        using var overLimit = await gateway.Client.GetAsync("/api/x", Ct);
        Assert.Equal("MISS", Result(miss));
        Assert.Equal("HIT", Result(hit));
        Assert.Equal("https://shop.example", hit.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(HttpStatusCode.TooManyRequests, overLimit.StatusCode);
        Assert.Equal(1, backend.HitsFor("/api/x"));
        Assert.Equal(1, backend.HitsFor("/auth/x"));
    }

    [Fact]
    public async Task Start_WithBadCachePolicyValues_NamesEveryOne()
    {
        var json = CacheJson.Create("api", new Uri("http://127.0.0.1:1/"), new { Ttl = "00:00:00", HeuristicFreshnessLimit = "-00:00:01", StaleIfError = "-00:00:01" });

        var ex = await Assert.ThrowsAsync<Portico.Gateway.Configuration.GatewayConfigurationException>(() => GatewayTestHost.StartAsync(json));

        Assert.Contains(ex.Errors, e => e.Contains("Ttl must be positive, or left out for the standard", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("HeuristicFreshnessLimit must not be negative", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("stale windows must not be negative", StringComparison.Ordinal));
    }
}
