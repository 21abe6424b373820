using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Net.Http.Headers;
using Portico.Gateway.Caching;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Caching;

/// <summary>
/// The cache as a shared HTTP cache (RFC 9111), through the real gateway to a real origin on port 0 whose
/// answer each test sets. A policy without <c>Ttl</c> is the standard mode; with <c>Ttl</c>, the override mode.
/// </summary>
public sealed class CacheRfc9111Tests
{
    private static Task<GatewayTestHost> StartGateway(string json, IDictionary<string, string?>? settings = null) => StartGateway(json, null, settings);

    private static Task<GatewayTestHost> StartGateway(string json, TimeProvider? time, IDictionary<string, string?>? settings = null) =>
        GatewayTestHost.StartAsync(json, time, settings);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly object Standard = new { Tags = new[] { "t" } };

    private static string Result(HttpResponseMessage response) =>
        response.Headers.TryGetValues(CachePolicies.ResultHeader, out var v) ? v.Single() : "(none)";

    /// <summary>An origin that answers every path under <c>/api/</c> with <paramref name="answer"/>, counting requests.</summary>
    private static Task<TestBackend> Origin(Func<HttpContext, int, Task> answer)
    {
        var count = 0;
        return TestBackend.StartAsync("origin", app => app.Map("/api/{**rest}", (HttpContext c) => answer(c, Interlocked.Increment(ref count))));
    }

    private static Task Text(HttpContext c, string body, string? cacheControl = null)
    {
        if (cacheControl is not null)
        {
            c.Response.Headers.CacheControl = cacheControl;
        }
        c.Response.ContentType = "text/plain";
        return c.Response.WriteAsync(body);
    }

    private static async Task<(HttpStatusCode Status, string Body, string Result)> Get(GatewayTestHost gateway, string path, string? token = null,
        Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        configure?.Invoke(request);
        using var response = await gateway.Client.SendAsync(request, Ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct), Result(response));
    }

    // RFC 9111 §3.5: the request carried Authorization (here a token that does not validate, on an anonymous route);
    // the answer is not public, s-maxage or must-revalidate, so a shared cache must not store it.
    [Theory]
    [InlineData("{}")]
    [InlineData("{\"Ttl\":\"00:01:00\"}")]
    public async Task InvalidToken_AnswerOnAnonymousRoute_IsNeverServedToAnyoneElse(string policyJson)
    {
        await using var origin = await Origin((c, n) => Text(c, c.Request.Headers.Authorization.Count != 0 ? "for the token holder" : "for everyone", "max-age=60"));
        var policy = System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>(policyJson);
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, policy));

        var withToken = await Get(gateway, "/api/x", token: "not-a-valid-token");
        var anonymous = await Get(gateway, "/api/x");
        var anonymousAgain = await Get(gateway, "/api/x");

        Assert.Equal("for the token holder", withToken.Body);
        Assert.Equal(("for everyone", "MISS"), (anonymous.Body, anonymous.Result));
        Assert.Equal(("for everyone", "HIT"), (anonymousAgain.Body, anonymousAgain.Result));
        Assert.Equal(2, origin.RequestCount);
    }

    // RFC 9111 §3.5: with public, s-maxage or must-revalidate the origin allows sharing an answer to a request with Authorization.
    [Theory]
    [InlineData("public, max-age=60")]
    [InlineData("s-maxage=60")]
    [InlineData("max-age=60, must-revalidate")]
    public async Task AnswerToRequestWithAuthorization_IsSharedOnlyWhenTheOriginSaysSo(string cacheControl)
    {
        await using var origin = await Origin((c, n) => Text(c, "shared " + n, cacheControl));
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        Assert.Equal("shared 1", (await Get(gateway, "/api/x", token: "whatever")).Body);
        var anonymous = await Get(gateway, "/api/x");
        Assert.Equal(("shared 1", "HIT"), (anonymous.Body, anonymous.Result));
        Assert.Equal(1, origin.RequestCount);
    }

    // RFC 9110 §6.4.1: a stored 204 is replayed without content, on GET and HEAD alike, hit after hit.
    [Theory]
    [InlineData("{}")]
    [InlineData("{\"Ttl\":\"00:01:00\"}")]
    public async Task Stored204_IsServedWithoutABody_OnEveryHit(string policyJson)
    {
        await using var origin = await Origin((c, n) =>
        {
            c.Response.StatusCode = 204;
            c.Response.Headers.CacheControl = "max-age=60";
            return Task.CompletedTask;
        });
        var policy = System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>(policyJson);
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, policy));

        Assert.Equal((HttpStatusCode.NoContent, "", "MISS"), await Get(gateway, "/api/empty"));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal((HttpStatusCode.NoContent, "", "HIT"), await Get(gateway, "/api/empty"));
        }
        using var head = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/api/empty"), Ct);
        Assert.Equal(HttpStatusCode.NoContent, head.StatusCode);
        Assert.Equal("HIT", Result(head));
        Assert.Equal(1, origin.RequestCount);
    }

    // RFC 9110 §5.5: obs-text in a field value is relayed as the origin sent it, on the miss and from the cache.
    [Fact]
    public async Task NonAsciiByteInAnUpstreamHeader_IsRelayed_NotA502()
    {
        // Kestrel will not send such a byte itself: the origin writes its answer on a raw socket, as older servers do.
        using var listener = RawOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\nX-Label: caf\u00e9\r\nConnection: close\r\n\r\nok",
            out var address, out var served);
        await using var gateway = await StartGateway(CacheJson.Create("api", address, Standard));

        foreach (var expected in (string[])["MISS", "HIT"])
        {
            using var response = await gateway.Client.GetAsync("/api/label", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(expected, Result(response));
            Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
            var label = response.Headers.GetValues("X-Label").Single();
            Assert.Equal(4, label.Length);
            Assert.StartsWith("caf", label, StringComparison.Ordinal);
        }
        Assert.True(served.Count >= 1);
    }

    // Per test (xUnit makes an instance per test): the fake clock starts at the real time and only moves ahead, since the
    // memory tier's own expiry follows the real clock.
    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;

    /// <summary>A gateway on a fake clock (the origin takes its Date from the same one), standard mode unless a policy is given.</summary>
    private Task<GatewayTestHost> OnClock(TestBackend origin, FakeTimeProvider time, object? policy = null, IDictionary<string, string?>? settings = null) =>
        StartGateway(CacheJson.Create("api", origin.Address, policy ?? Standard), time, settings);

    private static void Date(HttpContext c, TimeProvider time) => c.Response.Headers.Date = HeaderUtilities.FormatDate(time.GetUtcNow());

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var v) || response.Content.Headers.TryGetValues(name, out v) ? string.Join(", ", v) : "(none)";

    // RFC 9111 §4.2.1, §4.2.2: without Cache-Control, Expires or Last-Modified, nothing makes the answer fresh.
    [Fact]
    public async Task StandardMode_AnswerWithoutFreshness_IsNotAHit()
    {
        await using var origin = await Origin((c, n) => Text(c, "v" + n));
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        Assert.Equal("v1", (await Get(gateway, "/api/x")).Body);
        var second = await Get(gateway, "/api/x");
        Assert.Equal(("v2", "MISS"), (second.Body, second.Result));
    }

    // RFC 9111 §5.3: Expires in the past (or invalid) is stale; in the future, fresh until then.
    [Theory]
    [InlineData(-3600, "MISS")]
    [InlineData(3600, "HIT")]
    [InlineData(null, "MISS")]
    public async Task StandardMode_Expires_IsHonoured(int? offsetSeconds, string second)
    {
        await using var origin = await Origin((c, n) =>
        {
            c.Response.Headers.Expires = offsetSeconds is { } s ? HeaderUtilities.FormatDate(DateTimeOffset.UtcNow.AddSeconds(s)) : "0";
            return Text(c, "v" + n);
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        await Get(gateway, "/api/x");
        Assert.Equal(second, (await Get(gateway, "/api/x")).Result);
    }

    // RFC 9111 §1.2.2, §4.2.1: an invalid max-age is stale, not the policy's lifetime.
    [Theory]
    [InlineData("max-age=-1")]
    [InlineData("max-age=\"60\"")]
    public async Task StandardMode_InvalidMaxAge_IsStale(string cacheControl)
    {
        await using var origin = await Origin((c, n) => Text(c, "v" + n, cacheControl));
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        await Get(gateway, "/api/x");
        var second = await Get(gateway, "/api/x");
        Assert.Equal(("v2", "MISS"), (second.Body, second.Result));
    }

    // RFC 9111 §4.2.3: the origin's Age and the apparent age from its Date count against freshness; hits carry the
    // stored Date, and Age = corrected initial age + time stored.
    [Fact]
    public async Task StandardMode_AgeFromOrigin_Counts_AndHitsKeepTheOriginsDate()
    {
        var time = new FakeTimeProvider(_start);
        var anHourAgo = HeaderUtilities.FormatDate(_start.AddHours(-1));
        await using var origin = await Origin((c, n) =>
        {
            if (c.Request.Path.Value!.EndsWith("old", StringComparison.Ordinal))
            {
                c.Response.Headers.Age = "7200";
                Date(c, time);
                return Text(c, "v" + n, "max-age=3600");
            }
            c.Response.Headers.Age = "100";
            c.Response.Headers.Date = anHourAgo;
            return Text(c, "v" + n, "max-age=86400");
        });
        await using var gateway = await OnClock(origin, time);

        await Get(gateway, "/api/old");
        Assert.Equal("MISS", (await Get(gateway, "/api/old")).Result);

        await Get(gateway, "/api/young");
        time.Advance(TimeSpan.FromSeconds(10));
        using var hit = await gateway.Client.GetAsync("/api/young", Ct);
        Assert.Equal("HIT", Result(hit));
        Assert.Equal(anHourAgo, Header(hit, "Date"));
        Assert.InRange(hit.Headers.Age!.Value.TotalSeconds, 3610, 3612); // max(apparent 3600 s, 100 s + delay) + 10 s
    }

    // RFC 9111 §4.2.2: 10 % of the time since Last-Modified, for a heuristically cacheable status only.
    [Theory]
    [InlineData(200, "HIT")]
    [InlineData(201, "MISS")]
    public async Task StandardMode_HeuristicFreshness_OnlyForItsStatuses(int status, string second)
    {
        var time = new FakeTimeProvider(_start);
        await using var origin = await Origin((c, n) =>
        {
            c.Response.StatusCode = status;
            Date(c, time);
            c.Response.Headers.LastModified = HeaderUtilities.FormatDate(time.GetUtcNow().AddHours(-10));
            return Text(c, "v" + n);
        });
        await using var gateway = await OnClock(origin, time);

        await Get(gateway, "/api/x");
        time.Advance(TimeSpan.FromMinutes(50)); // within the hour a 10-hour-old answer earns
        Assert.Equal(second, (await Get(gateway, "/api/x")).Result);
    }

    // RFC 9111 §3: explicit freshness makes a status storable that heuristics would not.
    [Fact]
    public async Task StandardMode_ExplicitFreshness_StoresAnyFinalStatus()
    {
        await using var origin = await Origin((c, n) =>
        {
            c.Response.StatusCode = 500;
            return Text(c, "v" + n, "max-age=60");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        await Get(gateway, "/api/x");
        Assert.Equal((HttpStatusCode.InternalServerError, "v1", "HIT"), await Get(gateway, "/api/x"));
    }

    // RFC 9111 §4.2.4: must-revalidate (and its kin) forbids serving stale, whatever the policy's window says.
    [Theory]
    [InlineData("max-age=1, must-revalidate", "MISS")]
    [InlineData("max-age=1, proxy-revalidate", "MISS")]
    [InlineData("s-maxage=1", "MISS")]
    [InlineData("max-age=1", "STALE")]
    public async Task StandardMode_StaleIsServed_OnlyWhereTheOriginAllows(string cacheControl, string afterExpiry)
    {
        var time = new FakeTimeProvider(_start);
        await using var origin = await Origin((c, n) =>
        {
            Date(c, time);
            return Text(c, "v" + n, cacheControl);
        });
        await using var gateway = await OnClock(origin, time, new { StaleWhileRevalidate = "00:01:00" });

        await Get(gateway, "/api/x");
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(afterExpiry, (await Get(gateway, "/api/x")).Result);
    }

    // RFC 5861 §3 in the standard mode: the origin's stale-while-revalidate serves stale at once and refreshes once.
    [Fact]
    public async Task StandardMode_OriginsStaleWhileRevalidate_ServesStale_AndRefreshesInTheBackgroundOnce()
    {
        var time = new FakeTimeProvider(_start);
        var burstOver = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = await Origin(async (c, n) =>
        {
            if (n > 1)
            {
                await burstOver.Task.WaitAsync(Ct); // the refresh lands only after every stale read of the burst
            }
            Date(c, time);
            await Text(c, "v" + n, "max-age=1, stale-while-revalidate=30");
        });
        await using var gateway = await OnClock(origin, time);

        Assert.Equal("v1", (await Get(gateway, "/api/v")).Body);
        time.Advance(TimeSpan.FromSeconds(2));
        var results = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode, string, string)>();
        await Parallel.ForAsync(0, 20, Ct, async (_, _) => results.Add(await Get(gateway, "/api/v")));
        burstOver.SetResult();
        Assert.All(results, r => Assert.Equal((HttpStatusCode.OK, "v1", "STALE"), r));

        var refreshed = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); refreshed != "v2" && DateTime.UtcNow < deadline;)
        {
            await Task.Yield();
            refreshed = (await Get(gateway, "/api/v")).Body;
        }
        Assert.Equal("v2", refreshed);
        Assert.Equal(2, origin.RequestCount);
    }

    // RFC 9111 §4.3.1, §4.3.3, §4.3.4: an expired entry is validated with its ETag; the 304 updates it and it is fresh again.
    [Fact]
    public async Task StandardMode_ExpiredEntry_IsRevalidated_And304UpdatesTheStoredHeaders()
    {
        var time = new FakeTimeProvider(_start);
        var conditions = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var origin = await Origin((c, n) =>
        {
            conditions.Enqueue(c.Request.Headers.IfNoneMatch.ToString());
            Date(c, time);
            c.Response.Headers.ETag = "\"v1\"";
            c.Response.Headers["X-Served"] = "answer " + n;
            c.Response.Headers.CacheControl = "max-age=10";
            if (c.Request.Headers.IfNoneMatch == "\"v1\"")
            {
                c.Response.StatusCode = 304;
                return Task.CompletedTask;
            }
            return Text(c, "the body");
        });
        await using var gateway = await OnClock(origin, time);

        await Get(gateway, "/api/x");
        time.Advance(TimeSpan.FromSeconds(11));
        using var revalidated = await gateway.Client.GetAsync("/api/x", Ct);
        time.Advance(TimeSpan.FromSeconds(5));
        using var hit = await gateway.Client.GetAsync("/api/x", Ct);

        Assert.Equal(["", "\"v1\""], conditions);
        Assert.Equal((HttpStatusCode.OK, "REVALIDATED", "the body", "answer 2"),
            (revalidated.StatusCode, Result(revalidated), await revalidated.Content.ReadAsStringAsync(Ct), Header(revalidated, "X-Served")));
        Assert.Equal(("HIT", "the body", "answer 2"), (Result(hit), await hit.Content.ReadAsStringAsync(Ct), Header(hit, "X-Served")));
        Assert.StartsWith("Portico; hit", Header(hit, "Cache-Status"), StringComparison.Ordinal);
    }

    // RFC 9111 §4.3.2: a client's If-None-Match or If-Modified-Since matching a fresh entry gets 304.
    [Fact]
    public async Task FreshHit_AnswersTheClientsConditionalRequestWith304()
    {
        var lastModified = HeaderUtilities.FormatDate(DateTimeOffset.UtcNow.AddDays(-1));
        await using var origin = await Origin((c, n) =>
        {
            c.Response.Headers.ETag = "\"v1\"";
            c.Response.Headers.LastModified = lastModified;
            return Text(c, "the body", "max-age=60");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        await Get(gateway, "/api/x");
        var etag = await Get(gateway, "/api/x", configure: r => r.Headers.TryAddWithoutValidation("If-None-Match", "W/\"v1\""));
        var since = await Get(gateway, "/api/x", configure: r => r.Headers.TryAddWithoutValidation("If-Modified-Since", HeaderUtilities.FormatDate(DateTimeOffset.UtcNow)));
        var other = await Get(gateway, "/api/x", configure: r => r.Headers.TryAddWithoutValidation("If-None-Match", "\"v2\""));

        Assert.Equal((HttpStatusCode.NotModified, "", "HIT"), etag);
        Assert.Equal((HttpStatusCode.NotModified, "", "HIT"), since);
        Assert.Equal((HttpStatusCode.OK, "the body", "HIT"), other);
        Assert.Equal(1, origin.RequestCount);
    }

    // RFC 9111 §4.4: a successful unsafe method invalidates the URI, and the same-origin Location it names.
    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task UnsafeMethod_InvalidatesStoredGetsOfItsUri_AndOfItsLocation(string method)
    {
        await using var origin = await Origin((c, n) =>
        {
            if (!HttpMethods.IsGet(c.Request.Method))
            {
                c.Response.StatusCode = 201;
                c.Response.Headers.Location = "/api/other";
                return Task.CompletedTask;
            }
            return Text(c, "v" + n, "max-age=600");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        await Get(gateway, "/api/item?q=1");
        await Get(gateway, "/api/other");
        await Get(gateway, "/api/unrelated");
        Assert.Equal("HIT", (await Get(gateway, "/api/item?q=1")).Result);
        using var unsafeRequest = await gateway.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/api/item?q=1"), Ct);

        Assert.Equal(HttpStatusCode.Created, unsafeRequest.StatusCode);
        Assert.Equal("MISS", (await Get(gateway, "/api/item?q=1")).Result);
        Assert.Equal("MISS", (await Get(gateway, "/api/other")).Result);
        Assert.Equal("HIT", (await Get(gateway, "/api/unrelated")).Result);
    }

    // RFC 9111 §4.4 across instances: the invalidation travels through the shared store's pub/sub as purges do.
    [Fact]
    public async Task UnsafeMethodThroughOneGateway_InvalidatesTheEntryOnBoth()
    {
        using var store = GarnetTestServer.Start();
        await using var origin = await Origin((c, n) => HttpMethods.IsGet(c.Request.Method) ? Text(c, "v" + n, "max-age=600") : Task.CompletedTask);
        var json = CacheJson.Create("api", origin.Address, Standard);
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString };
        await using var first = await StartGateway(json, settings);
        await using var second = await StartGateway(json, settings);

        Assert.Equal("MISS", (await Get(first, "/api/p")).Result);
        Assert.Equal("HIT", (await Get(second, "/api/p")).Result);
        using var put = await first.Client.PutAsync("/api/p", new StringContent("{}"), Ct);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        var result = "HIT";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); result == "HIT" && DateTime.UtcNow < deadline;)
        {
            await Task.Yield();
            result = (await Get(second, "/api/p")).Result;
        }
        Assert.Equal("MISS", result);
    }

    // RFC 9111 §4.1: answers varying on any header are stored per variant and chosen by the request's values.
    [Fact]
    public async Task Vary_AnyHeader_StoresVariants_AndSelectsByTheRequestsValues()
    {
        await using var origin = await Origin((c, n) =>
        {
            c.Response.Headers.Vary = "X-Lang, Accept-Encoding";
            return Text(c, c.Request.Headers["X-Lang"] + " " + n, "max-age=60");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));
        void Lang(HttpRequestMessage r, string lang) => r.Headers.Add("X-Lang", lang);

        Assert.Equal(("en 1", "MISS"), (await Get(gateway, "/api/x", configure: r => Lang(r, "en"))) is var a ? (a.Body, a.Result) : default);
        Assert.Equal(("ko 2", "MISS"), (await Get(gateway, "/api/x", configure: r => Lang(r, "ko"))) is var b ? (b.Body, b.Result) : default);
        Assert.Equal(("en 1", "HIT"), (await Get(gateway, "/api/x", configure: r => Lang(r, "en"))) is var c ? (c.Body, c.Result) : default);
        Assert.Equal(("ko 2", "HIT"), (await Get(gateway, "/api/x", configure: r => Lang(r, "ko"))) is var d ? (d.Body, d.Result) : default);
        Assert.Equal(" 3", (await Get(gateway, "/api/x")).Body);
        Assert.Equal("MISS", (await Get(gateway, "/api/x", configure: r => r.Headers.Add("Accept-Encoding", "gzip"))).Result);
    }

    // RFC 9213 and Portico-Cache-Control: the targeted field wins over Cache-Control, and Portico's is kept from the client.
    [Fact]
    public async Task TargetedCacheControl_TakesPrecedence_AndPorticosIsNotForwarded()
    {
        await using var origin = await Origin((c, n) =>
        {
            c.Response.Headers["Portico-Cache-Control"] = "max-age=60";
            c.Response.Headers["CDN-Cache-Control"] = "no-store";
            return Text(c, "v" + n, "no-store");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        using var miss = await gateway.Client.GetAsync("/api/x", Ct);
        using var hit = await gateway.Client.GetAsync("/api/x", Ct);

        Assert.Equal(("MISS", "HIT"), (Result(miss), Result(hit)));
        Assert.Equal(("(none)", "(none)"), (Header(miss, "Portico-Cache-Control"), Header(hit, "Portico-Cache-Control")));
        Assert.Equal("no-store", Header(hit, "Cache-Control"));
        Assert.StartsWith("Portico; fwd=uri-miss; fwd-status=200", Header(miss, "Cache-Status"), StringComparison.Ordinal);
    }

    // RFC 9110 §14.2: a byte range of a stored full 200 is served as 206 from the stored body, or 416.
    [Fact]
    public async Task Range_OnAStoredFullAnswer_IsServedFromTheStoredBody()
    {
        await using var origin = await Origin((c, n) => Text(c, "0123456789", "max-age=60"));
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));
        await Get(gateway, "/api/x");

        using var part = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        part.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 1);
        using var partial = await gateway.Client.SendAsync(part, Ct);
        using var beyond = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        beyond.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 200);
        using var unsatisfiable = await gateway.Client.SendAsync(beyond, Ct);

        Assert.Equal((HttpStatusCode.PartialContent, "01", "bytes 0-1/10"),
            (partial.StatusCode, await partial.Content.ReadAsStringAsync(Ct), partial.Content.Headers.ContentRange?.ToString()));
        Assert.Equal((HttpStatusCode.RequestedRangeNotSatisfiable, "bytes */10"), (unsatisfiable.StatusCode, unsatisfiable.Content.Headers.ContentRange?.ToString()));
        Assert.Equal(1, origin.RequestCount);
    }

    // The hardening step adds its fields only where the origin set none, on misses and hits alike.
    [Fact]
    public async Task HardeningHeaders_NeverDuplicateAFieldTheOriginSet()
    {
        await using var origin = await Origin((c, n) =>
        {
            c.Response.Headers["X-Frame-Options"] = "SAMEORIGIN";
            c.Response.Headers.ContentSecurityPolicy = "default-src 'self'";
            return Text(c, "x", "max-age=60");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        foreach (var expected in (string[])["MISS", "HIT"])
        {
            using var response = await gateway.Client.GetAsync("/api/x", Ct);
            Assert.Equal(expected, Result(response));
            Assert.Equal("SAMEORIGIN", Header(response, "X-Frame-Options"));
            Assert.Equal("default-src 'self'", Header(response, "Content-Security-Policy"));
            Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        }
    }

    // Coalescing in the standard mode: a cold burst of 50 reaches the origin once.
    [Fact]
    public async Task StandardMode_FiftyConcurrentColdGets_ReachTheOriginOnce()
    {
        await using var origin = await Origin(async (c, n) =>
        {
            await Task.Delay(300, Ct);
            c.Response.Headers.ETag = "\"e\"";
            c.Response.Headers.Vary = "Accept-Encoding";
            await Text(c, "the body", "public, max-age=60");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        var results = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode, string, string)>();
        await Parallel.ForAsync(0, 50, new ParallelOptions { MaxDegreeOfParallelism = 50, CancellationToken = Ct }, async (_, _) => results.Add(await Get(gateway, "/api/x")));

        Assert.Equal(1, origin.RequestCount);
        Assert.All(results, r => Assert.Equal("the body", r.Item2));
        Assert.Equal(1, results.Count(r => r.Item3 == "MISS"));
    }

    /// <summary>An origin on a raw socket that answers every request with <paramref name="answer"/> (Latin-1) and closes.</summary>
    private static System.Net.Sockets.TcpListener RawOrigin(string answer, out Uri address, out System.Collections.Concurrent.ConcurrentBag<string> heads)
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var received = new System.Collections.Concurrent.ConcurrentBag<string>();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var client = await listener.AcceptTcpClientAsync(Ct);
                    var stream = client.GetStream();
                    var buffer = new byte[8192];
                    var read = 0;
                    while (System.Text.Encoding.ASCII.GetString(buffer, 0, read).IndexOf("\r\n\r\n", StringComparison.Ordinal) < 0)
                    {
                        var got = await stream.ReadAsync(buffer.AsMemory(read), Ct);
                        if (got == 0)
                        {
                            break;
                        }
                        read += got;
                    }
                    received.Add(System.Text.Encoding.ASCII.GetString(buffer, 0, read));
                    await stream.WriteAsync(System.Text.Encoding.Latin1.GetBytes(answer), Ct);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or IOException)
            {
                // the test is over
            }
        });
        address = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        heads = received;
        return listener;
    }

    // RFC 9110 §7.6.1, RFC 9111 §3.1: a field the origin names in Connection is for one hop: not relayed, not stored.
    [Fact]
    public async Task FieldsNamedInConnection_AreNeitherRelayedNorStored()
    {
        using var listener = RawOrigin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\nConnection: close, X-Hop\r\nX-Hop: one hop\r\nX-End: kept\r\n\r\nok",
            out var address, out _);
        await using var gateway = await StartGateway(CacheJson.Create("api", address, Standard));

        foreach (var expected in (string[])["MISS", "HIT"])
        {
            using var response = await gateway.Client.GetAsync("/api/hop", Ct);
            Assert.Equal((expected, "(none)", "kept"), (Result(response), Header(response, "X-Hop"), Header(response, "X-End")));
        }
    }

    // RFC 5861 §4: the origin's stale-if-error serves the stored answer when the origin fails, within its window only.
    [Fact]
    public async Task StandardMode_OriginsStaleIfError_ServesStaleWhenTheOriginFails()
    {
        var time = new FakeTimeProvider(_start);
        var origin = await Origin((c, n) =>
        {
            Date(c, time);
            return Text(c, "sunny", "max-age=1, stale-if-error=60");
        });
        await using var gateway = await OnClock(origin, time);

        Assert.Equal("MISS", (await Get(gateway, "/api/w")).Result);
        await origin.KillAsync();
        await origin.DisposeAsync();
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal((HttpStatusCode.OK, "sunny", "STALE"), await Get(gateway, "/api/w"));
        time.Advance(TimeSpan.FromSeconds(60));
        var gone = await Get(gateway, "/api/w");
        Assert.True((int)gone.Status is 502 or 503 or 504, $"got {(int)gone.Status}");
    }

    // RFC 9111 §4.4: only a successful answer invalidates; a failed unsafe request leaves the entry.
    [Fact]
    public async Task FailedUnsafeMethod_DoesNotInvalidate()
    {
        await using var origin = await Origin((c, n) =>
        {
            if (HttpMethods.IsPost(c.Request.Method))
            {
                c.Response.StatusCode = 409;
                return Task.CompletedTask;
            }
            return Text(c, "v" + n, "max-age=600");
        });
        await using var gateway = await StartGateway(CacheJson.Create("api", origin.Address, Standard));

        await Get(gateway, "/api/item");
        using var post = await gateway.Client.PostAsync("/api/item", new StringContent("{}"), Ct);

        Assert.Equal(HttpStatusCode.Conflict, post.StatusCode);
        Assert.Equal("HIT", (await Get(gateway, "/api/item")).Result);
    }

    // RFC 9111 §4.3.1, §4.3.4 in the background: the stale-while-revalidate refresh sends the stored ETag, and a 304
    // refreshes the entry (with the 304's fields) without a body crossing the wire.
    [Fact]
    public async Task BackgroundRefresh_RevalidatesWithTheStoredETag()
    {
        var time = new FakeTimeProvider(_start);
        var conditions = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var origin = await Origin((c, n) =>
        {
            conditions.Enqueue(c.Request.Headers.IfNoneMatch.ToString());
            Date(c, time);
            c.Response.Headers.ETag = "\"v1\"";
            c.Response.Headers["X-Served"] = "answer " + n;
            c.Response.Headers.CacheControl = "max-age=10, stale-while-revalidate=60";
            if (c.Request.Headers.IfNoneMatch == "\"v1\"")
            {
                c.Response.StatusCode = 304;
                return Task.CompletedTask;
            }
            return Text(c, "the body");
        });
        await using var gateway = await OnClock(origin, time);

        await Get(gateway, "/api/x");
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal("STALE", (await Get(gateway, "/api/x")).Result);

        var served = "";
        for (var deadline = DateTime.UtcNow.AddSeconds(10); served != "answer 2" && DateTime.UtcNow < deadline;)
        {
            await Task.Yield();
            using var response = await gateway.Client.GetAsync("/api/x", Ct);
            served = Header(response, "X-Served");
            if (served == "answer 2")
            {
                Assert.Equal(("HIT", "the body"), (Result(response), await response.Content.ReadAsStringAsync(Ct)));
            }
        }
        Assert.Equal("answer 2", served);
        Assert.Equal(["", "\"v1\""], conditions);
    }
}
