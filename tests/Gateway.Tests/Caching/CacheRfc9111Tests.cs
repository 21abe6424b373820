using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Caching;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Caching;

/// <summary>
/// The cache as a shared HTTP cache (RFC 9111), through the real gateway to a real origin on port 0 whose
/// answer each test sets. A policy without <c>Ttl</c> is the standard mode; with <c>Ttl</c>, the override mode.
/// </summary>
public sealed class CacheRfc9111Tests
{
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
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", origin.Address, policy));

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
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", origin.Address, Standard));

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
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", origin.Address, policy));

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
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var served = 0;
        var serving = Task.Run(async () =>
        {
            while (!Ct.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(Ct);
                var stream = client.GetStream();
                var buffer = new byte[8192];
                var read = 0;
                while (System.Text.Encoding.ASCII.GetString(buffer, 0, read).IndexOf("\r\n\r\n", StringComparison.Ordinal) < 0)
                {
                    read += await stream.ReadAsync(buffer.AsMemory(read), Ct);
                }
                Interlocked.Increment(ref served);
                await stream.WriteAsync(System.Text.Encoding.Latin1.GetBytes(
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\nX-Label: caf\u00e9\r\nConnection: close\r\n\r\nok"), Ct);
            }
        }, Ct);
        var address = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        await using var gateway = await GatewayTestHost.StartAsync(CacheJson.Create("api", address, Standard));

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
        Assert.True(Volatile.Read(ref served) >= 1);
        listener.Stop();
    }
}
