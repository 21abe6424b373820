using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Forwarding;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

/// <summary>
/// Portico's HTTP/1.1 forwarder must be indistinguishable from YARP's: the same requests go through two gateways
/// over one backend — one with the fast forwarder, one with <c>FastHttp1=false</c> — and the backend must see the
/// same request, the client the same answer.
/// </summary>
public sealed class Http1ForwarderTests : IAsyncLifetime
{
    private TestBackend _backend = null!;
    private GatewayTestHost _fast = null!;
    private GatewayTestHost _yarp = null!;

    public async ValueTask InitializeAsync()
    {
        _backend = await TestBackend.StartAsync("echo", app =>
        {
            app.Map("/echo/{**rest}", EchoAsync);
            app.Map("/private/{**rest}", EchoAsync);
            app.MapGet("/big", () => Results.Bytes(Big, "application/octet-stream"));
            app.MapGet("/streamed", async (HttpResponse response) =>
            {
                // No length: Kestrel sends it chunked, in several writes.
                response.ContentType = "text/plain";
                for (var i = 0; i < 50; i++)
                {
                    await response.WriteAsync($"line {i}\n");
                    await response.Body.FlushAsync();
                }
            });
        });
        var config = GatewayJson.Create(
            [("echo", "/echo/{**rest}", "echo"), ("big", "/big", "echo"), ("streamed", "/streamed", "echo"), ("private", "/private/{**rest}", "echo")],
            [("echo", [_backend.Address])]);
        // The private route keeps the secure default: a token is needed.
        var document = System.Text.Json.Nodes.JsonNode.Parse(config)!;
        document["ReverseProxy"]!["Routes"]!["private"]!.AsObject().Remove("AuthorizationPolicy");
        config = document.ToJsonString();
        _fast = await GatewayTestHost.StartAsync(config);
        _yarp = await GatewayTestHost.StartAsync(config, new Dictionary<string, string?> { ["Portico:Forwarding:FastHttp1"] = "false" });
    }

    public async ValueTask DisposeAsync()
    {
        await _fast.DisposeAsync();
        await _yarp.DisposeAsync();
        await _backend.DisposeAsync();
    }

    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

    private static readonly byte[] Big = RandomNumberGenerator.GetBytes(1024 * 1024 + 17);

    private static async Task EchoAsync(HttpContext context)
    {
        var request = context.Request;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var seen = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["(method)"] = request.Method,
            ["(target)"] = context.Features.Get<IHttpRequestFeature>()!.RawTarget,
            ["(protocol)"] = request.Protocol,
            ["(body)"] = Convert.ToHexString(SHA256.HashData(body.ToArray())),
        };
        foreach (var (name, values) in request.Headers)
        {
            seen[name.ToLowerInvariant()] = values.ToString();
        }
        // Span ids differ from request to request: what must match is the trace the request belongs to.
        if (seen.TryGetValue("traceparent", out var traceparent))
        {
            seen["traceparent"] = traceparent.Split('-') is [var version, var traceId, _, var flags] && traceId == TraceId
                ? $"{version}-(the client's trace)-(span)-{flags}" : $"(another trace: {traceparent})";
        }

        var response = context.Response;
        response.StatusCode = int.TryParse(request.Query["status"], out var status) ? status : 200;
        response.Headers.Append("Set-Cookie", "a=1; Path=/");
        response.Headers.Append("Set-Cookie", "b=2; Path=/; HttpOnly");
        response.Headers["X-Echo"] = "echo; v=1";
        response.Headers.CacheControl = "no-store";
        response.Headers["Server"] = "echo/1.0";
        response.Headers["X-Powered-By"] = "tests";
        response.Headers.Vary = "Accept, Accept-Language";
        if (response.StatusCode is not (204 or 304) && !HttpMethods.IsHead(request.Method))
        {
            await response.WriteAsJsonAsync(seen);
        }
    }

    public static TheoryData<string, string, string?> Requests() => new()
    {
        { "GET", "/echo/plain", null },
        { "GET", "/echo/a%2Fb/c%20d/%C3%BC/%252F/x;y=1,(z)!$&'*+:@~?x=1&y=%20z&x=2", null },
        { "GET", "/echo/empty-query?", null },
        { "HEAD", "/echo/head", null },
        { "POST", "/echo/orders", "{\"sku\":\"kb-1\",\"qty\":2}" },
        { "PUT", "/echo/empty-body", "" },
        { "DELETE", "/echo/orders/7", null },
        { "PATCH", "/echo/orders/7", "{\"qty\":3}" },
        { "GET", "/echo/none?status=204", null },
        { "GET", "/echo/same?status=304", null },
        { "GET", "/echo/missing?status=404", null },
        { "POST", "/echo/broken?status=500", "x" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task SameRequestUpstream_SameAnswerDownstream(string method, string target, string? body)
    {
        var fast = await SendAsync(_fast, method, target, body);
        var yarp = await SendAsync(_yarp, method, target, body);

        Assert.Equal(yarp.Status, fast.Status);
        Assert.Equal(string.Join("; ", yarp.Headers), string.Join("; ", fast.Headers));
        Assert.Equal(yarp.Body, fast.Body);
        Assert.True(!fast.Headers.ContainsKey("server"), $"{fast.Status} {string.Join("; ", fast.Headers)} {fast.Body}");
        Assert.DoesNotContain("x-powered-by", fast.Headers.Keys);
        Assert.Equal(2, fast.Headers["set-cookie"].Split('\n').Length);
        Assert.Equal("echo; v=1", fast.Headers["x-echo"]);
        AssertTookFastPath();
    }

    [Fact]
    public async Task SpoofedForwardingAndIdentityHeaders_AreReplacedTheSameWay()
    {
        static void Spoof(HttpRequestMessage request)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", "/evil");
            request.Headers.TryAddWithoutValidation("Forwarded", "for=6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-User-Id", "admin");
            request.Headers.TryAddWithoutValidation("X-User-Roles", "admin");
            request.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic c2VjcmV0");
            request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
            request.Headers.TryAddWithoutValidation("Cookie", "session=abc; theme=dark");
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/plain;q=0.5");
        }

        var fast = await SendAsync(_fast, "GET", "/echo/spoof", null, Spoof);
        var yarp = await SendAsync(_yarp, "GET", "/echo/spoof", null, Spoof);

        var seenFast = JsonSerializer.Deserialize<Dictionary<string, string>>(fast.Body)!;
        var seenYarp = JsonSerializer.Deserialize<Dictionary<string, string>>(yarp.Body)!;
        Assert.Equal(WithoutHost(seenYarp), WithoutHost(seenFast));
        Assert.Equal("127.0.0.1", seenFast["x-forwarded-for"]);
        Assert.Equal("http", seenFast["x-forwarded-proto"]);
        Assert.Equal("(gateway)", seenFast["x-forwarded-host"]);
        foreach (var dropped in new[] { "x-forwarded-prefix", "forwarded", "x-user-id", "x-user-roles", "proxy-authorization", "keep-alive" })
        {
            Assert.False(seenFast.ContainsKey(dropped), dropped);
        }
        Assert.Equal("session=abc; theme=dark", seenFast["cookie"]);
        AssertTookFastPath();
    }

    [Fact]
    public async Task SignedInCaller_IsForwardedAsUserIdAndRoles()
    {
        var fast = await SendAsync(_fast, "GET", "/private/me", null, r =>
            r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _fast.Tokens.CreateToken("user-42", ["user", "buyer"])));
        var yarp = await SendAsync(_yarp, "GET", "/private/me", null, r =>
            r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _yarp.Tokens.CreateToken("user-42", ["user", "buyer"])));

        Assert.True(fast.Status == 200, fast.Body);
        var seenFast = JsonSerializer.Deserialize<Dictionary<string, string>>(fast.Body)!;
        var seenYarp = JsonSerializer.Deserialize<Dictionary<string, string>>(yarp.Body)!;
        Assert.Equal("user-42", seenFast["x-user-id"]);
        Assert.Equal("user,buyer", seenFast["x-user-roles"]);
        Assert.Equal(seenYarp["x-user-id"], seenFast["x-user-id"]);
        Assert.Equal(seenYarp["x-user-roles"], seenFast["x-user-roles"]);
    }

    [Fact]
    public async Task LargeAndStreamedBodies_ArriveWhole()
    {
        using var big = await _fast.Client.GetAsync("/big", TestContext.Current.CancellationToken);
        Assert.Equal(Big, await big.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        Assert.Equal(Big.Length, big.Content.Headers.ContentLength);

        var fast = await SendAsync(_fast, "GET", "/streamed", null);
        var yarp = await SendAsync(_yarp, "GET", "/streamed", null);
        Assert.Equal(yarp.Body, fast.Body);
        Assert.Equal(string.Concat(Enumerable.Range(0, 50).Select(i => $"line {i}\n")), fast.Body);
        Assert.Equal(yarp.Headers, fast.Headers);
        AssertTookFastPath();
    }

    [Fact]
    public async Task KeptAliveConnections_AreReused_ByConcurrentCallers()
    {
        var before = _backend.RequestCount;
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            for (var j = 0; j < 10; j++)
            {
                using var response = await _fast.Client.GetAsync($"/echo/load/{i}/{j}", TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains($"/echo/load/{i}/{j}", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
            }
        }));
        Assert.Equal(before + 200, _backend.RequestCount);
        Assert.InRange(Forwarder(_fast).IdleConnections(_backend.Address.ToString()), 1, 20);
    }

    [Fact]
    public async Task EveryForwardedRequest_IsTimedPerDestination_WhicheverForwarderCarriedIt()
    {
        foreach (var gateway in new[] { _fast, _yarp })
        {
            var meters = gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            var seen = new List<(double Seconds, string Tags)>();
            using var listener = new System.Diagnostics.Metrics.MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "portico.gateway.upstream.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
            {
                lock (seen)
                {
                    seen.Add((value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
                }
            });
            listener.Start();

            await SendAsync(gateway, "GET", "/echo/timed", null);
            await SendAsync(gateway, "GET", "/echo/timed?status=503", null);

            lock (seen)
            {
                Assert.Equal(2, seen.Count);
                Assert.All(seen, m => Assert.InRange(m.Seconds, 0, 30));
                // Service discovery names a resolved destination after its address: echo-0[127.0.0.1:port].
                Assert.Matches(@"^cluster=echo,destination=echo-0\[127\.0\.0\.1:\d+\],http\.response\.status_code=200$", seen[0].Tags);
                Assert.Matches(@"^cluster=echo,destination=echo-0\[127\.0\.0\.1:\d+\],http\.response\.status_code=503$", seen[1].Tags);
            }
        }
    }

    private void AssertTookFastPath()
    {
        var prefix = _backend.Address.ToString();
        Assert.True(Forwarder(_fast).IdleConnections(prefix) > 0, "the fast gateway kept no connection: it did not forward itself");
        Assert.Equal(0, Forwarder(_yarp).IdleConnections(prefix));
    }

    private static Http1Forwarder Forwarder(GatewayTestHost gateway) => gateway.Services.GetRequiredService<Http1Forwarder>();

    private static Dictionary<string, string> WithoutHost(Dictionary<string, string> seen) =>
        seen.Where(p => p.Key != "x-forwarded-host").ToDictionary();

    private sealed record Answer(int Status, SortedDictionary<string, string> Headers, string Body);

    private static async Task<Answer> SendAsync(GatewayTestHost gateway, string method, string target, string? body, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), target);
        request.Headers.TryAddWithoutValidation("X-Request-Id", "fixed-id-1");
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        configure?.Invoke(request);
        using var response = await gateway.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (name is not "Date")
            {
                headers[name.ToLowerInvariant()] = string.Join("\n", values);
            }
        }
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        // The echo lists what the backend saw; the Host differs between the two gateways only by their port.
        text = text.Replace(gateway.Client.BaseAddress!.Authority, "(gateway)", StringComparison.Ordinal);
        return new Answer((int)response.StatusCode, headers, text);
    }
}
