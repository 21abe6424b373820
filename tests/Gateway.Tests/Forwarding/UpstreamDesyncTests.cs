using System.Net;
using System.Text;

namespace Portico.Gateway.Tests;

/// <summary>
/// Upstreams that leave bytes on a kept-alive connection which belong to no answer: a body after a HEAD, 204 or 304
/// answer (RFC 9112 §6.3: those have none), bytes beyond Content-Length, bytes that come late, or an answer sent
/// before the request body was read. Reusing such a connection would hand one client's planted answer to the next
/// client; each case runs 100 times and every follow-up request must get its own answer. (Bytes that arrive only after
/// the next request was written cannot be told from its answer by any HTTP/1.1 client; the late-bytes case waits
/// until the upstream has written them, which is when an idle connection must be found unusable.)
/// </summary>
public sealed class UpstreamDesyncTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Planted = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nplanted";

    public static TheoryData<string> Cases() => ["HEAD with a body", "204 with a body", "304 with a body", "bytes past Content-Length", "late bytes past Content-Length"];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BytesLeftOnTheConnection_NeverBecomeTheNextClientsAnswer(string kase)
    {
        await using var upstream = new ScriptedUpstream((_, line) => Answer(kase, line));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("x", upstream.Address));

        for (var i = 0; i < 100; i++)
        {
            using (var trigger = new HttpRequestMessage(kase.StartsWith("HEAD", StringComparison.Ordinal) ? HttpMethod.Head : HttpMethod.Get, "/x/trigger"))
            {
                using var answer = await gateway.Client.SendAsync(trigger, Ct);
                await answer.Content.ReadAsByteArrayAsync(Ct);
            }
            await WaitUntilAsync(() => upstream.RepliesSent == upstream.Requests);

            using var next = await gateway.Client.GetAsync($"/x/own-{i}", Ct);

            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
            Assert.Equal($"own-{i}", await next.Content.ReadAsStringAsync(Ct));
        }
    }

    [Fact]
    public async Task AnswerBeforeTheBodyWasRead_NoAnswerToTheBodyReachesTheNextClient()
    {
        // The body holds a whole request, and this upstream answers without reading the body, then reads on: it takes
        // the body for a request and answers it. That answer must never be taken for the next client's.
        const string Hidden = "GET /x/evil HTTP/1.1\r\nHost: u\r\nContent-Length: 0\r\n\r\n";
        await using var upstream = new ScriptedUpstream((_, line) => line.StartsWith("POST", StringComparison.Ordinal)
            ? new Reply([Encoding.ASCII.GetBytes("HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n")], ReadBody: false)
            : Answer("plain", line));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("x", upstream.Address));

        for (var i = 0; i < 100; i++)
        {
            using (var early = await gateway.Client.PostAsync("/x/upload", new StringContent(Hidden), Ct))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, early.StatusCode);
            }
            // Until the upstream has taken the body for a request (the POST, the hidden GET and the earlier rounds' own
            // GETs: 3 a round) and answered it: the planted answer then lies on the pooled connection.
            await WaitUntilAsync(() => upstream.Requests == 3 * i + 2 && upstream.RepliesSent == upstream.Requests);
            using var next = await gateway.Client.GetAsync($"/x/own-{i}", Ct);

            Assert.Equal($"own-{i}", await next.Content.ReadAsStringAsync(Ct));
        }
    }

    /// <summary>
    /// An answer sent while a slow upload is still coming reaches the client, and the connection the upstream stopped
    /// reading is not used again. It reaches the client only when the upload has ended: SocketsHttpHandler sends the
    /// whole request body before it returns an HTTP/1.1 answer (dotnet/runtime#57186), so an early 413 does not cut
    /// the upload short.
    /// </summary>
    [Theory]
    [InlineData(401)]
    [InlineData(413)]
    public async Task AnswerWhileTheBodyIsStillComing_ReachesTheClient_AndTheConnectionIsNotReused(int status)
    {
        await using var upstream = new ScriptedUpstream((_, line) => line.StartsWith("POST", StringComparison.Ordinal)
            ? new Reply([Encoding.ASCII.GetBytes($"HTTP/1.1 {status} No\r\nContent-Length: 0\r\n\r\n")], ReadBody: false)
            : Answer("plain", line));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("x", upstream.Address));

        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(gateway.Client.BaseAddress!.Host, gateway.Client.BaseAddress.Port, Ct);
            var stream = tcp.GetStream();
            await stream.WriteAsync("POST /x/upload HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"u8.ToArray(), Ct);
            var chunk = "64\r\n"u8.ToArray().Concat(new byte[100]).Concat("\r\n"u8.ToArray()).ToArray();
            for (var i = 0; i < 20; i++)
            {
                await stream.WriteAsync(chunk, Ct);
                await Task.Delay(20, Ct); // a slow client: the upstream answers after the first chunks
            }
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), Ct);
            var answer = new MemoryStream();
            await stream.CopyToAsync(answer, Ct);

            Assert.StartsWith($"HTTP/1.1 {status} ", Encoding.ASCII.GetString(answer.ToArray()), StringComparison.Ordinal);
        }
        using var next = await gateway.Client.GetAsync("/x/own-next", Ct);

        Assert.Equal("own-next", await next.Content.ReadAsStringAsync(Ct));
        Assert.Equal(2, upstream.Connections);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5), "timed out waiting for the upstream");
            await Task.Delay(5, Ct);
        }
    }

    /// <summary>The follow-up requests get their own name back; the trigger gets the misbehaving answer.</summary>
    private static Reply Answer(string kase, string requestLine)
    {
        var path = requestLine.Split(' ')[1];
        if (!path.EndsWith("/trigger", StringComparison.Ordinal))
        {
            var own = path[(path.LastIndexOf('/') + 1)..];
            return Reply.Of($"HTTP/1.1 200 OK\r\nContent-Length: {own.Length}\r\n\r\n{own}");
        }
        return kase switch
        {
            "HEAD with a body" => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n" + Planted),
            "204 with a body" => Reply.Of("HTTP/1.1 204 No Content\r\n\r\n" + Planted),
            "304 with a body" => Reply.Of("HTTP/1.1 304 Not Modified\r\n\r\n" + Planted),
            "bytes past Content-Length" => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + Planted),
            "late bytes past Content-Length" => Reply.Split("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Planted),
            _ => throw new ArgumentOutOfRangeException(nameof(kase)),
        };
    }
}
