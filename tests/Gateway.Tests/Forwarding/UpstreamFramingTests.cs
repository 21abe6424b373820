using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Portico.Gateway.Tests;

/// <summary>
/// The gateway (YARP's forwarder on SocketsHttpHandler) against an upstream that writes raw bytes: response framing
/// (Content-Length, chunked, close-delimited, RFC 9112 §6), malformed answers (a 502 before the response started, an
/// aborted client connection after), interim answers, connection reuse and the retry of a request on a kept-alive
/// connection the server closed meanwhile.
/// </summary>
public sealed class UpstreamFramingTests
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
        }

        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task DuplicateIdenticalContentLength_IsRefused()
    {
        // RFC 9110 §8.6: a recipient MAY reject repeated lengths, even identical ones, as invalid; SocketsHttpHandler does.
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/twice", Ct);

        await AssertBadGatewayAsync(response);
    }

    // ---- Malformed answers: 502 before the response started ----

    public static TheoryData<string> MalformedAnswers() => new()
    {
        // Two different lengths, or a length that is no number (RFC 9112 §6.3).
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
        // Status lines that are not HTTP/1.x NNN.
        "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTX/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 OK 200\r\nContent-Length: 2\r\n\r\nok",
        "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        // Header lines.
        "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\n: no-name\r\nContent-Length: 2\r\n\r\nok",
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

    public static TheoryData<string, string, string, string> LenientlyReadAnswers() => new()
    {
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; the client gets the chunked body, re-framed.
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-Seen: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "X-Seen", "1", "hello" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nX-Seen: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "X-Seen", "1", "hello" },
        // RFC 9112 §2.3: a higher minor version is read as the highest the recipient knows.
        { "HTTP/1.2 200 OK\r\nX-Seen: 1\r\nContent-Length: 2\r\n\r\nok", "X-Seen", "1", "ok" },
        // RFC 9112 §5.1: a proxy removes whitespace between a field name and the colon before forwarding.
        { "HTTP/1.1 200 OK\r\nX-Spaced : 1\r\nContent-Length: 2\r\n\r\nok", "X-Spaced", "1", "ok" },
        // RFC 9112 §5.2: a proxy replaces obs-fold with SP before forwarding.
        { "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 2\r\n\r\nok", "X-Folded", "a    b", "ok" },
        // RFC 9112 §2.2: a recipient MAY take a bare LF as a line terminator; the client gets two CRLF-framed fields.
        { "HTTP/1.1 200 OK\r\nX-Bare-Lf: a\nX-Smuggled: b\r\nContent-Length: 2\r\n\r\nok", "X-Smuggled", "b", "ok" },
        // RFC 9110 §5.5: NUL in a value is either refused or replaced with SP before forwarding.
        { "HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 2\r\n\r\nok", "X-Nul", "a b", "ok" },
    };

    /// <summary>
    /// Answers RFC 9112 lets a recipient read leniently reach the client re-framed by Kestrel, so no reading of them
    /// differs between the gateway and the client; the connection still serves the next request correctly.
    /// </summary>
    [Theory]
    [MemberData(nameof(LenientlyReadAnswers))]
    public async Task LenientlyReadAnswer_IsRelayedReframed(string answer, string header, string value, string body)
    {
        await using var upstream = new ScriptedUpstream(n => n == 1 ? Reply.Of(answer) : Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using (var response = await gateway.Client.GetAsync("/wire/lenient", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(body, await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal(value, Assert.Single(response.Headers.GetValues(header)));
        }
        using var next = await gateway.Client.GetAsync("/wire/next", Ct);
        Assert.Equal("next", await next.Content.ReadAsStringAsync(Ct));
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
    public async Task ObsTextInAValue_IsRelayedByteForByte()
    {
        // RFC 9110 §5.5 allows obs-text in values; it must neither fail the answer nor be re-encoded.
        await using var upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nX-Latin: caf\u00E9\r\nX-Utf8: caf\u00C3\u00A9\r\nContent-Length: 2\r\n\r\nok"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        var text = await RawHttp1Client.ExchangeAsync(gateway.Client.BaseAddress!, "GET /wire/text HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n"u8.ToArray(), Ct);

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Latin: caf\u00E9\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Utf8: caf\u00C3\u00A9\r\n", text, StringComparison.Ordinal);
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
    }

    // ---- Failures after the body started ----

    [Fact]
    public async Task ServerClosesInTheMiddleOfALargeContentLengthBody_ClientSeesAnError()
    {
        // The head is relayed before the body arrives, so the answer has started when the upstream fails: the
        // client's connection is cut rather than given a complete-looking answer.
        await using var upstream = new ScriptedUpstream(_ => Reply.Split(close: true,
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + new string('x', 9000),
            new string('y', 1000)));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => gateway.Client.GetAsync("/wire/truncated", Ct));

        Assert.True(failure is HttpRequestException or IOException, failure.ToString());
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
    public async Task KeptAliveConnection_ClosedAfterReadingAPost_IsNotSentAgainByTheClient()
    {
        // With no resilience policy only SocketsHttpHandler could send it again; it does so only for idempotent
        // requests (RFC 9110 §9.2.2), so the POST the upstream read before hanging up reached it once.
        await using var upstream = new ScriptedUpstream(n => n == 1 ? Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") : Reply.Hangup);
        await using var gateway = await GatewayTestHost.StartAsync(WithoutRetries(GatewayJson.Single("wire", upstream.Address)));

        using (var first = await gateway.Client.GetAsync("/wire/first", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var second = await gateway.Client.PostAsync("/wire/second", new StringContent("order"), Ct);

        await AssertBadGatewayAsync(second);
        Assert.Equal(2, upstream.Requests);
        Assert.Equal(1, upstream.Connections);
        Assert.EndsWith("order", upstream.RawRequests.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewConnectionClosedWithoutAnswer_APostIsBadGateway_AndSentOnce()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Hangup);
        await using var gateway = await GatewayTestHost.StartAsync(WithoutRetries(GatewayJson.Single("wire", upstream.Address)));

        using var response = await gateway.Client.PostAsync("/wire/hangup", null, Ct);

        await AssertBadGatewayAsync(response);
        Assert.Equal(1, upstream.Requests);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok")]
    public async Task ConnectionClose_ConnectionIsNotReused(string answer)
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
                        "TE: trailers\r\n" +
            "Upgrade: h2c\r\n" +
            "Proxy-Authenticate: Basic\r\n" +
            "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n" +
            "X-Custom: 1\r\n" +
            "Content-Length: 2\r\n\r\nok"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("wire", upstream.Address));

        using var response = await gateway.Client.GetAsync("/wire/headers", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("X-Custom")));
        var names = HeaderNames(response);
        foreach (var hidden in new[] { "Connection", "Keep-Alive", "Proxy-Connection", "Alt-Svc", "Server", "X-Powered-By", "TE", "Upgrade", "Proxy-Authenticate", "HTTP2-Settings" })
        {
            Assert.DoesNotContain(hidden, names);
        }
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

        using var get = await gateway.Client.GetAsync("/wire/resource", Ct);

        Assert.Equal("next", await get.Content.ReadAsStringAsync(Ct));
        Assert.Equal(1, upstream.Connections);
        Assert.Equal(new[] { "HEAD /wire/resource HTTP/1.1", "GET /wire/resource HTTP/1.1" }, upstream.RequestLines);
    }

    // ---- Helpers ----

    private static string WithoutRetries(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        node["ReverseProxy"]!["Routes"]!["wire"]!["Metadata"] = new System.Text.Json.Nodes.JsonObject { ["Portico.Resilience"] = "none" };
        return node.ToJsonString();
    }

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
}
