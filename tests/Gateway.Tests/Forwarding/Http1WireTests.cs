using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Forwarding;

namespace Portico.Gateway.Tests;

/// <summary>
/// Portico's HTTP/1.1 forwarder against an upstream that writes raw bytes: response framing (Content-Length,
/// chunked, close-delimited), malformed answers (a 502 before the response started, an aborted client connection
/// after), interim answers, connection reuse and the retry of a request on a kept-alive connection the server
/// closed meanwhile. Plus the parser and chunked decoder on their own.
/// </summary>
public sealed class Http1WireTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ---- Framing ----

    [Fact]
    public async Task ChunkedBody_SplitAcrossWrites_WithExtensionAndTrailer_ArrivesWhole_AndConnectionIsReused()
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz"; // 26 bytes: size "1A", uppercase hex
        var reply = Reply.Split(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r",
            "\n\r\n5;note=\"first\"\r\nhel",
            "lo\r\n1",
            "A\r\n" + Alphabet[..10],
            Alphabet[10..] + "\r",
            "\n3 ; x=y\r\n!!!\r\n0\r\nX-Checksum: 42\r\n",
            "Expires: never\r\n\r\n");
        await using var upstream = new ScriptedUpstream(_ => reply);
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        for (var i = 1; i <= 2; i++)
        {
            using var response = await gateway.Client.GetAsync("/wire/chunked", Ct);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("hello" + Alphabet + "!!!", await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.DoesNotContain("X-Checksum", HeaderNames(response));
            Assert.DoesNotContain("Expires", HeaderNames(response));
            Assert.Empty(response.TrailingHeaders);
            await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");
        }

        Assert.Equal(2, upstream.Requests);
        Assert.Equal(1, upstream.Connections);
        Assert.Equal(new[] { "GET /wire/chunked HTTP/1.1", "GET /wire/chunked HTTP/1.1" }, upstream.RequestLines);
    }

    [Fact]
    public async Task CloseDelimitedBody_IsReadUntilTheServerCloses_AndTheNextRequestUsesANewConnection()
    {
        await using var upstream = new ScriptedUpstream(n => Reply.Split(close: true,
            $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nanswer {n}: first part, ",
            "second part, ",
            "last part"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        for (var n = 1; n <= 2; n++)
        {
            using var response = await gateway.Client.GetAsync("/wire/until-close", Ct);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"answer {n}: first part, second part, last part", await response.Content.ReadAsStringAsync(Ct));
            await WaitUntilAsync(() => upstream.ClosedConnections == n, "the upstream connection is closed");
            Assert.Equal(0, IdleConnections(gateway, upstream));
        }

        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task CloseDelimitedBody_HeadArrivingAlone_BodyStillRelayed()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Split(close: true,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
            "the body ",
            "comes later"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/late-body", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("the body comes later", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ContentLengthBody_SplitAcrossWrites_ArrivesWhole_AndConnectionIsReused()
    {
        await using var upstream = new ScriptedUpstream(n => Reply.Split(
            "HTTP/1.1 200 OK\r\nContent-Le",
            "ngth: 14\r\n\r",
            $"\nanswer {n}",
            " done!"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        for (var n = 1; n <= 2; n++)
        {
            using var response = await gateway.Client.GetAsync("/wire/length", Ct);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"answer {n} done!", await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal(14, response.Content.Headers.ContentLength);
            await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");
        }

        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task MoreBytesThanContentLength_OnlyTheLengthIsRelayed_AndTheConnectionIsNotReused()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n\r\n"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        for (var n = 1; n <= 2; n++)
        {
            using var response = await gateway.Client.GetAsync("/wire/extra", Ct);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("abc", await response.Content.ReadAsStringAsync(Ct));
            await WaitUntilAsync(() => upstream.ClosedConnections == n, "the gateway closes the connection");
            Assert.Equal(0, IdleConnections(gateway, upstream));
        }

        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task DuplicateIdenticalContentLength_IsAccepted()
    {
        // RFC 9110 §8.6: identical repeated lengths may be taken as one; ParseHead accepts them.
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/twice", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(5, response.Content.Headers.ContentLength);
    }

    // ---- Malformed answers: 502 before the response started ----

    public static TheoryData<string> MalformedAnswers() => new()
    {
        // Two framings, or two lengths.
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
        // Status lines that are not HTTP/1.x NNN.
        "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTX/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 OK 200\r\nContent-Length: 2\r\n\r\nok",
        "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        // Header lines.
        "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX-Spaced : 1\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\n: no-name\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX-Bare-Lf: a\nX-Smuggled: b\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 2\r\n\r\nok",
        // A protocol switch nobody asked for.
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    };

    [Theory]
    [MemberData(nameof(MalformedAnswers))]
    public async Task MalformedAnswer_IsBadGateway(string answer)
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Of(answer));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/malformed", Ct);

        await AssertBadGatewayAsync(response);
        Assert.Equal(1, upstream.Requests);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nX-Ctl: a\u0001b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Ctl: a\u0001b\r\n\r\nok")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Ctl: a\u007Fb\r\nContent-Length: 2\r\n\r\nok")]
    public async Task ControlCharacterInHeaderValue_IsBadGateway(string answer)
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Of(answer, close: true));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/control", Ct);

        await AssertBadGatewayAsync(response);
        Assert.DoesNotContain("X-Ctl", HeaderNames(response));
    }

    [Fact]
    public async Task ObsTextHeaderValue_IsRelayedAsTheUpstreamSentIt()
    {
        // RFC 9110 §5.5 allows obs-text (0x80-0xFF) in field values (issue 17): read as Latin-1 and written back as
        // Latin-1 by Kestrel (ResponseHeaderEncodingSelector), the bytes pass unchanged instead of failing with 502.
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nX-Upstream: yes\r\nContent-Length: 2\r\nX-Latin: caf\u00E9\r\n\r\nok"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/latin", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("X-Upstream", HeaderNames(response));
        Assert.Equal(4, response.Headers.GetValues("X-Latin").Single().Length);
    }

    [Fact]
    public async Task ResponseHeadOver64KB_IsBadGateway()
    {
        var head = new StringBuilder("HTTP/1.1 200 OK\r\n");
        for (var i = 0; i < 100; i++)
        {
            head.Append(System.Globalization.CultureInfo.InvariantCulture, $"X-Filler-{i}: {new string('a', 1000)}\r\n");
        }
        head.Append("Content-Length: 2\r\n\r\nok");
        await using var upstream = new ScriptedUpstream(_ => Reply.Of(head.ToString()));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/huge-head", Ct);

        await AssertBadGatewayAsync(response);
        Assert.DoesNotContain("X-Filler-0", HeaderNames(response));
    }

    [Fact]
    public async Task ResponseHeadUnder64KB_IsRelayed()
    {
        var head = new StringBuilder("HTTP/1.1 200 OK\r\n");
        for (var i = 0; i < 40; i++)
        {
            head.Append(System.Globalization.CultureInfo.InvariantCulture, $"X-Filler-{i}: {new string('a', 1000)}\r\n");
        }
        head.Append("Content-Length: 2\r\n\r\nok");
        await using var upstream = new ScriptedUpstream(_ => Reply.Of(head.ToString()));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/big-head", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(new string('a', 1000), Assert.Single(response.Headers.GetValues("X-Filler-39")));
    }

    // ---- Interim answers ----

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InterimAnswers_AreSkipped_AndTheFinalOneRelayed(bool split)
    {
        string[] parts =
        [
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal",
        ];
        await using var upstream = new ScriptedUpstream(_ => split ? Reply.Split(parts) : Reply.Of(string.Concat(parts)));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/interim", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("final", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("yes", Assert.Single(response.Headers.GetValues("X-Final")));
        Assert.DoesNotContain("Link", HeaderNames(response));
        await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");
    }

    // ---- Failures after the body started ----

    [Fact]
    public async Task ServerClosesInTheMiddleOfALargeContentLengthBody_ClientSeesAnError()
    {
        // Larger than the read buffer: relayed as it arrives, so the answer has started when the upstream fails.
        await using var upstream = new ScriptedUpstream(_ => Reply.Split(close: true,
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + new string('x', 9000),
            new string('y', 1000)));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => gateway.Client.GetAsync("/wire/truncated", Ct));

        Assert.True(failure is HttpRequestException or IOException, failure.ToString());
    }

    [Fact]
    public async Task ServerClosesInTheMiddleOfASmallContentLengthBody_ClientGetsBadGateway()
    {
        // A body that fits the read buffer is gathered before anything is relayed: nothing has started, so the
        // client gets a clean 502 instead of a cut connection.
        await using var upstream = new ScriptedUpstream(_ => Reply.Split(close: true,
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Upstream: 1\r\n\r\n0123456789",
            "abcdefghij"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/truncated", Ct);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("X-Upstream"));
    }

    [Fact]
    public async Task ServerClosesInTheMiddleOfAChunkedBody_ClientSeesAnError()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Split(close: true,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            "A\r\n01234"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => gateway.Client.GetAsync("/wire/truncated-chunks", Ct));

        Assert.True(failure is HttpRequestException or IOException, failure.ToString());
    }

    [Fact]
    public async Task ServerClosesRightAfterTheHead_BeforeAnyBodyByte_IsBadGateway()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Upstream: yes\r\n\r\n", close: true));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/head-only", Ct);

        await AssertBadGatewayAsync(response);
        Assert.DoesNotContain("X-Upstream", HeaderNames(response));
    }

    [Fact]
    public async Task ServerClosesInTheMiddleOfTheHead_IsBadGateway()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nContent-Len", close: true));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/half-head", Ct);

        await AssertBadGatewayAsync(response);
    }

    // ---- Connection reuse ----

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StaleKeptAliveConnection_RequestIsSentAgainOnANewConnection(bool closeRightAfterAnswer)
    {
        const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        // Either the server closes its kept-alive connection straight after answering (and the gateway finds out
        // when it next uses it), or it reads the next request and hangs up without a word.
        await using var upstream = new ScriptedUpstream(n => (n, closeRightAfterAnswer) switch
        {
            (1, true) => Reply.Of(Ok, close: true),
            (2, false) => Reply.Hangup,
            _ => Reply.Of(Ok),
        });
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using (var first = await gateway.Client.GetAsync("/wire/first", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal("ok", await first.Content.ReadAsStringAsync(Ct));
        }
        await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");
        if (closeRightAfterAnswer)
        {
            await WaitUntilAsync(() => upstream.ClosedConnections == 1, "the upstream closed its end");
            await Task.Delay(50, Ct);
        }

        using var second = await gateway.Client.GetAsync("/wire/second", Ct);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("ok", await second.Content.ReadAsStringAsync(Ct));
        Assert.Equal(2, upstream.Connections);
        Assert.Equal(closeRightAfterAnswer ? 2 : 3, upstream.Requests);
        Assert.Equal("GET /wire/second HTTP/1.1", upstream.RequestLines.Last());
    }

    [Fact]
    public async Task StaleKeptAliveConnection_IsRetriedOnlyOnce()
    {
        await using var upstream = new ScriptedUpstream(n => n == 1 ? Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") : Reply.Hangup);
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using (var first = await gateway.Client.GetAsync("/wire/first", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }
        await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");

        using var second = await gateway.Client.GetAsync("/wire/second", Ct);

        await AssertBadGatewayAsync(second);
        Assert.Equal(3, upstream.Requests);
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task NewConnectionClosedWithoutAnswer_IsBadGateway_WithoutRetry()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Hangup);
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/hangup", Ct);

        await AssertBadGatewayAsync(response);
        Assert.Equal(1, upstream.Requests);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok")]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")]
    public async Task ConnectionCloseOrHttp10_ConnectionIsNotReused(string answer)
    {
        // The upstream itself would keep the connection open: only the gateway's reading of the head closes it.
        await using var upstream = new ScriptedUpstream(_ => Reply.Of(answer));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        for (var n = 1; n <= 2; n++)
        {
            using var response = await gateway.Client.GetAsync("/wire/close", Ct);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
            Assert.DoesNotContain("Connection", HeaderNames(response));
            await WaitUntilAsync(() => upstream.ClosedConnections == n, "the gateway closes the connection");
            Assert.Equal(0, IdleConnections(gateway, upstream));
        }

        Assert.Equal(2, upstream.Connections);
    }

    // ---- Headers and methods ----

    [Fact]
    public async Task HopByHopAndHiddenHeaders_AreNotRelayed()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Of(
            "HTTP/1.1 200 OK\r\n" +
            "Connection: keep-alive\r\n" +
            "Keep-Alive: timeout=5, max=100\r\n" +
            "Proxy-Connection: keep-alive\r\n" +
            "Alt-Svc: h3=\":443\"; ma=86400\r\n" +
            "Server: upstream/1.0\r\n" +
            "X-Powered-By: PHP/8.3\r\n" +
            "Trailer: X-Checksum\r\n" +
            "TE: trailers\r\n" +
            "X-Custom: 1\r\n" +
            "Content-Length: 2\r\n\r\nok"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/headers", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("X-Custom")));
        var names = HeaderNames(response);
        foreach (var hidden in new[] { "Connection", "Keep-Alive", "Proxy-Connection", "Alt-Svc", "Server", "X-Powered-By", "Trailer", "TE" })
        {
            Assert.DoesNotContain(hidden, names);
        }
        await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");
    }

    [Fact]
    public async Task Head_WithContentLengthAndNoBody_IsRelayed_AndConnectionIsReused()
    {
        await using var upstream = new ScriptedUpstream(n => n == 1
            ? Reply.Of("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 42\r\n\r\n")
            : Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using (var request = new HttpRequestMessage(HttpMethod.Head, "/wire/resource"))
        using (var head = await gateway.Client.SendAsync(request, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(42, head.Content.Headers.ContentLength);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
        }
        await WaitUntilAsync(() => IdleConnections(gateway, upstream) == 1, "the connection is back in the pool");

        using var get = await gateway.Client.GetAsync("/wire/resource", Ct);

        Assert.Equal("next", await get.Content.ReadAsStringAsync(Ct));
        Assert.Equal(1, upstream.Connections);
        Assert.Equal(new[] { "HEAD /wire/resource HTTP/1.1", "GET /wire/resource HTTP/1.1" }, upstream.RequestLines);
    }

    // ---- Http1Protocol.ParseHead on its own ----

    [Fact]
    public void ParseHead_ReadsStatusFramingAndKeepAlive()
    {
        var plain = Http1Protocol.ParseHead("HTTP/1.1 201 Created\r\nContent-Length: 17\r\ncontent-length: 17\r\n\r\n"u8);
        Assert.Equal(201, plain.Status);
        Assert.Equal(17, plain.ContentLength);
        Assert.True(plain.KeepAlive);
        Assert.False(plain.Chunked);
        Assert.False(plain.HasTransferEncoding);

        var chunked = Http1Protocol.ParseHead("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked \r\n\r\n"u8);
        Assert.True(chunked.Chunked);
        Assert.True(chunked.KeepAlive);
        Assert.Equal(-1, chunked.ContentLength);

        // A coding after chunked leaves the body delimited by the close.
        var notChunked = Http1Protocol.ParseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"u8);
        Assert.False(notChunked.Chunked);
        Assert.True(notChunked.HasTransferEncoding);
        Assert.False(notChunked.KeepAlive);

        var noReason = Http1Protocol.ParseHead("HTTP/1.1 204\r\n\r\n"u8);
        Assert.Equal(204, noReason.Status);
        Assert.True(noReason.KeepAlive);

        Assert.False(Http1Protocol.ParseHead("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"u8).KeepAlive);
        Assert.False(Http1Protocol.ParseHead("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n\r\n"u8).KeepAlive);
        Assert.True(Http1Protocol.ParseHead("HTTP/1.1 200 OK\r\nConnection: closed\r\nX-Empty:\r\n\r\n"u8).KeepAlive);
        Assert.Equal(103, Http1Protocol.ParseHead("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"u8).Status);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5.0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n")]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTX/1.1 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Odd\r\n\r\n")]
    [InlineData("HTTP/1.1 2x0 OK\r\n\r\n")]
    [InlineData("HTTP/1.1  200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Spaced : 1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: 1\r\n\tfolded: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: 1\0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u0001b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u007Fb\r\n\r\n")]
    public void ParseHead_RejectsMalformedOrAmbiguousHeads(string head)
    {
        var bytes = Encoding.Latin1.GetBytes(head);
        Assert.Throws<Http1ProtocolException>(() => Http1Protocol.ParseHead(bytes));
    }

    [Fact]
    public void FindHeadEnd_FindsTheBlankLine()
    {
        Assert.Equal(-1, Http1Protocol.FindHeadEnd("HTTP/1.1 200 OK\r\nA: b\r\n\r"u8));
        Assert.Equal(25, Http1Protocol.FindHeadEnd("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"u8));
    }

    // ---- ChunkedDecoder on its own ----

    [Fact]
    public void ChunkedDecoder_UppercaseAndLowercaseHex_ExtensionsAndTrailers()
    {
        var message = "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n" + "a;name=value;other\r\n0123456789\r\n" + "3 \t;x\r\n!!!\r\n"
            + "0;last\r\nX-Checksum: 42\r\nX-Other: b\r\n\r\n";
        var bytes = Encoding.Latin1.GetBytes(message);
        var decoder = new ChunkedDecoder();

        var data = decoder.Decode(bytes, out var consumed);

        Assert.True(decoder.Done);
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal("abcdefghijklmnopqrstuvwxyz0123456789!!!", Encoding.Latin1.GetString(bytes, 0, data));
    }

    [Fact]
    public void ChunkedDecoder_StopsAtTheEndOfTheMessage()
    {
        var bytes = "2\r\nhi\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"u8.ToArray();
        var decoder = new ChunkedDecoder();

        var data = decoder.Decode(bytes, out var consumed);

        Assert.True(decoder.Done);
        Assert.Equal(2, data);
        Assert.Equal("2\r\nhi\r\n0\r\n\r\n".Length, consumed);
    }

    [Fact]
    public void ChunkedDecoder_SizeLineSplitAcrossTwoCalls()
    {
        var decoder = new ChunkedDecoder();
        var first = "1"u8.ToArray();

        Assert.Equal(0, decoder.Decode(first, out var consumed));
        Assert.Equal(0, consumed);
        Assert.False(decoder.Done);

        // The caller keeps what was not consumed and appends what arrives next.
        var second = "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"u8.ToArray();
        var data = decoder.Decode(second, out consumed);

        Assert.Equal(second.Length, consumed);
        Assert.Equal("abcdefghijklmnopqrstuvwxyz", Encoding.Latin1.GetString(second, 0, data));
        Assert.True(decoder.Done);
    }

    [Fact]
    public void ChunkedDecoder_LastChunkWithTrailers_ArrivingPieceByPiece_IsDone()
    {
        var decoder = new ChunkedDecoder();

        Assert.Equal(0, decoder.Decode("0\r\nX-Trail"u8.ToArray(), out var consumed));
        Assert.Equal(3, consumed);
        Assert.False(decoder.Done);
        Assert.Equal(0, decoder.Decode("X-Trailer: 1\r\n\r"u8.ToArray(), out consumed));
        Assert.Equal(14, consumed);
        Assert.False(decoder.Done);
        Assert.Equal(0, decoder.Decode("\r\n"u8.ToArray(), out consumed));
        Assert.Equal(2, consumed);
        Assert.True(decoder.Done);
    }

    [Fact]
    public void ChunkedDecoder_GivesTheSameBody_HoweverTheBytesAreSplit()
    {
        const string Message = "5;a=b\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\nb\r\n, and more.\r\n0\r\nT: 1\r\n\r\n";
        for (var piece = 1; piece <= Message.Length; piece++)
        {
            Assert.Equal("helloabcdefghijklmnopqrstuvwxyz, and more.", DecodeInPieces(Message, piece));
        }
    }

    [Theory]
    [InlineData("zz\r\n")]
    [InlineData("\r\n")]
    [InlineData("5x\r\nhello\r\n")]
    [InlineData("-5\r\nhello\r\n")]
    [InlineData("+5\r\nhello\r\n")]
    [InlineData("0x5\r\nhello\r\n")]
    [InlineData(" 5\r\nhello\r\n")]
    [InlineData("1000000000000000\r\n")]
    [InlineData("5\r\nhelloXY")]
    [InlineData("5\r\nhello\n0\r\n\r\n")]
    public void ChunkedDecoder_InvalidFraming_Throws(string message)
    {
        var bytes = Encoding.Latin1.GetBytes(message);
        var decoder = new ChunkedDecoder();

        Assert.Throws<Http1ProtocolException>(() => decoder.Decode(bytes, out _));
    }

    [Fact]
    public void ChunkedDecoder_OverlongSizeLine_Throws()
    {
        var bytes = Encoding.Latin1.GetBytes("5;" + new string('x', 5000));
        var decoder = new ChunkedDecoder();

        Assert.Throws<Http1ProtocolException>(() => decoder.Decode(bytes, out _));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5001/", "127.0.0.1:5001", "", true)]
    [InlineData("http://[::1]:8080/base/", "[::1]:8080", "/base", true)]
    [InlineData("http://catalog-a/", "catalog-a", "", false)]
    [InlineData("http://catalog-a:80/v1", "catalog-a", "/v1", false)]
    public void Destination_HostHeaderAndBasePath_ComeFromTheAddress(string prefix, string authority, string basePath, bool ipAddress)
    {
        var destination = Http1Destination.TryCreate(prefix);

        Assert.NotNull(destination);
        Assert.Equal(authority, destination.Authority);
        Assert.Equal(basePath, destination.BasePath);
        Assert.Equal(ipAddress, destination.EndPoint is IPEndPoint);
    }

    [Theory]
    [InlineData("https://catalog-a/")]
    [InlineData("http://catalog-a/?q=1")]
    [InlineData("http://user:secret@catalog-a/")]
    public void Destination_NotServedByTheFastForwarder_IsNull(string prefix) => Assert.Null(Http1Destination.TryCreate(prefix));

    // ---- Helpers ----

    /// <summary>Feeds <paramref name="message"/> to a decoder <paramref name="piece"/> bytes at a time, the way the forwarder keeps unconsumed bytes.</summary>
    private static string DecodeInPieces(string message, int piece)
    {
        var input = Encoding.Latin1.GetBytes(message);
        var buffer = new byte[input.Length];
        var output = new List<byte>();
        var decoder = new ChunkedDecoder();
        int fed = 0, end = 0;
        while (!decoder.Done)
        {
            var take = Math.Min(piece, input.Length - fed);
            Assert.True(take > 0, $"the decoder wants more than the message holds (pieces of {piece})");
            input.AsSpan(fed, take).CopyTo(buffer.AsSpan(end));
            fed += take;
            end += take;
            var data = decoder.Decode(buffer.AsSpan(0, end), out var consumed);
            output.AddRange(buffer[..data]);
            buffer.AsSpan(consumed, end - consumed).CopyTo(buffer);
            end -= consumed;
        }
        Assert.Equal(input.Length, fed);
        Assert.Equal(0, end);
        return Encoding.Latin1.GetString(output.ToArray());
    }

    private static int IdleConnections(GatewayTestHost gateway, ScriptedUpstream upstream) =>
        gateway.Services.GetRequiredService<Http1Forwarder>().IdleConnections(upstream.Address.ToString());

    private static HashSet<string> HeaderNames(HttpResponseMessage response) =>
        response.Headers.Concat(response.Content.Headers).Select(h => h.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static async Task AssertBadGatewayAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadGateway, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Bad gateway", body, StringComparison.Ordinal);
        Assert.Contains("'wire'", body, StringComparison.Ordinal);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(3))
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }
            await Task.Delay(10, Ct);
        }
    }

    /// <summary>What the upstream does with one request: writes the parts in order, pausing between them, then closes if told to.</summary>
    private sealed record Reply(IReadOnlyList<byte[]> Parts, bool Close = false)
    {
        /// <summary>Closes the connection without a byte of answer.</summary>
        public static Reply Hangup { get; } = new([], Close: true);

        public static Reply Of(string bytes, bool close = false) => new([Encoding.Latin1.GetBytes(bytes)], close);

        public static Reply Split(params string[] parts) => Split(false, parts);

        public static Reply Split(bool close, params string[] parts) => new(parts.Select(Encoding.Latin1.GetBytes).ToArray(), close);
    }

    /// <summary>
    /// A raw TCP upstream: reads request heads (no bodies) on each connection it accepts, answers the gateway's
    /// health probes itself and every other request from the script (given the request's number, from 1). It counts
    /// the connections that carried a scripted request, so tests can tell reuse from new connections.
    /// </summary>
    private sealed class ScriptedUpstream : IAsyncDisposable
    {
        private static readonly TimeSpan PartDelay = TimeSpan.FromMilliseconds(30);
        private static readonly byte[] HealthAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray();

        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Func<int, Reply> _script;
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentBag<Task> _serving = [];
        private readonly Task _accepting;
        private int _requests;
        private int _connections;
        private int _closed;

        public ScriptedUpstream(Func<int, Reply> script)
        {
            _script = script;
            _listener.Start();
            Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
            _accepting = AcceptAsync();
        }

        public Uri Address { get; }

        /// <summary>Requests answered from the script (health probes excluded).</summary>
        public int Requests => Volatile.Read(ref _requests);

        /// <summary>Connections that carried at least one scripted request.</summary>
        public int Connections => Volatile.Read(ref _connections);

        /// <summary>Of those, how many have ended (closed by either side).</summary>
        public int ClosedConnections => Volatile.Read(ref _closed);

        /// <summary>The request lines of the scripted requests, in arrival order.</summary>
        public ConcurrentQueue<string> RequestLines { get; } = new();

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    socket.NoDelay = true;
                    _serving.Add(ServeAsync(socket));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            var carried = false;
            var buffer = new byte[8192];
            var have = 0;
            try
            {
                while (true)
                {
                    int end;
                    while ((end = buffer.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
                    {
                        if (have == buffer.Length)
                        {
                            Array.Resize(ref buffer, buffer.Length * 2);
                        }
                        var got = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, _stop.Token);
                        if (got == 0)
                        {
                            return;
                        }
                        have += got;
                    }
                    var head = Encoding.Latin1.GetString(buffer, 0, end);
                    buffer.AsSpan(end + 4, have - end - 4).CopyTo(buffer);
                    have -= end + 4;
                    var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
                    var requestLine = lineEnd < 0 ? head : head[..lineEnd];
                    if (requestLine.Contains(" /health/", StringComparison.Ordinal))
                    {
                        await socket.SendAsync(HealthAnswer, SocketFlags.None, _stop.Token);
                        continue;
                    }
                    if (!carried)
                    {
                        carried = true;
                        Interlocked.Increment(ref _connections);
                    }
                    RequestLines.Enqueue(requestLine);
                    var reply = _script(Interlocked.Increment(ref _requests));
                    for (var i = 0; i < reply.Parts.Count; i++)
                    {
                        if (i > 0)
                        {
                            await Task.Delay(PartDelay, _stop.Token);
                        }
                        await socket.SendAsync(reply.Parts[i], SocketFlags.None, _stop.Token);
                    }
                    if (reply.Close)
                    {
                        socket.Shutdown(SocketShutdown.Both);
                        return;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The gateway closed or reset the connection, or the upstream is stopping.
            }
            finally
            {
                socket.Dispose();
                if (carried)
                {
                    Interlocked.Increment(ref _closed);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            await Task.WhenAll(_serving);
            _listener.Dispose();
            _stop.Dispose();
        }
    }
}
