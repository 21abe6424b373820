using System.Text;

namespace Portico.Gateway.Tests;

/// <summary>
/// Clients that send what no library would, as raw bytes over HTTP/1.1 and as raw HTTP/2 frames over h2c, against
/// the gateway with its defaults and a raw-socket upstream that records every byte it receives. A head the gateway
/// cannot pass on unchanged and unambiguously is refused at the edge with a 4xx (or, on HTTP/2, a stream error),
/// and nothing of it reaches the upstream; what RFC 9110 allows (obs-text in values) is relayed byte for byte.
/// </summary>
public sealed class HostileClientTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ScriptedUpstream _upstream = null!;
    private GatewayTestHost _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = new ScriptedUpstream(_ => Reply.Of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        _gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("x", _upstream.Address));
    }

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    public static TheoryData<string, string> RefusedHttp1Heads() => new()
    {
        // RFC 9112 §2.2 lets a recipient accept a bare LF; a gateway must not, or a strict parser behind it reads
        // one field where the gateway read two.
        { "bare LF as every line end", "GET /x/a HTTP/1.1\nHost: g\nConnection: close\n\n" },
        { "bare LF inside the head", "GET /x/a HTTP/1.1\r\nHost: g\r\nX-A: b\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" },
        // RFC 9110 §5.5: CR, LF and NUL in a value are invalid and dangerous; other controls are no field-vchar.
        { "NUL in a value", "GET /x/a HTTP/1.1\r\nHost: g\r\nX-A: b\0c\r\nConnection: close\r\n\r\n" },
        { "a control character in a value", "GET /x/a HTTP/1.1\r\nHost: g\r\nX-A: b\u0001c\r\nConnection: close\r\n\r\n" },
        { "DEL in a value", "GET /x/a HTTP/1.1\r\nHost: g\r\nX-A: b\u007Fc\r\nConnection: close\r\n\r\n" },
        // RFC 9112 §5.1: whitespace between the name and the colon MUST be rejected with 400.
        { "space before the colon", "GET /x/a HTTP/1.1\r\nHost: g\r\nX-A : b\r\nConnection: close\r\n\r\n" },
        // RFC 9112 §5.2: obs-fold outside message/http is rejected (or replaced; Kestrel rejects).
        { "obs-fold", "GET /x/a HTTP/1.1\r\nHost: g\r\nX-A: b\r\n c\r\nConnection: close\r\n\r\n" },
        // RFC 9110 §5.1: a field name is a token.
        { "a separator in a name", "GET /x/a HTTP/1.1\r\nHost: g\r\nX(A): b\r\nConnection: close\r\n\r\n" },
        { "an empty name", "GET /x/a HTTP/1.1\r\nHost: g\r\n: b\r\nConnection: close\r\n\r\n" },
        // RFC 9112 §6.3: different lengths are unrecoverable framing errors.
        { "two different lengths", "POST /x/a HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd" },
        { "a length that is no number", "POST /x/a HTTP/1.1\r\nHost: g\r\nContent-Length: 4x\r\nConnection: close\r\n\r\nabcd" },
        // RFC 9112 §6.1: a transfer coding the server does not know, or chunked not last.
        { "an unknown transfer coding", "POST /x/a HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nabcd" },
        // RFC 9112 §3.2: exactly one Host.
        { "two Host fields", "GET /x/a HTTP/1.1\r\nHost: g\r\nHost: h\r\nConnection: close\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(RefusedHttp1Heads))]
    public async Task Http1_MalformedHead_IsRefusedWith400_AndNothingReachesTheUpstream(string what, string request)
    {
        var answer = await SendHttp1Async(request);

        Assert.True(Status(answer) == 400, $"{what}: {answer}");
        Assert.Equal(0, _upstream.Requests);
    }

    [Fact]
    public async Task Http1_MalformedChunk_IsRefused_AndTheUpstreamNeverGetsAWholeRequest()
    {
        // Bodies are streamed, not buffered: the head may already be on its way when Kestrel finds the bad chunk
        // (RFC 9112 §7.1). The upstream's request is then cut, never completed with bytes the client chose.
        var answer = await SendHttp1Async("POST /x/a HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4x\r\nabcd\r\n0\r\n\r\n");

        Assert.True(Status(answer) == 400, answer);
        Assert.Empty(_upstream.RawRequests);
    }

    [Fact]
    public async Task Http1_LengthAndChunkedTogether_OneFramingReachesTheUpstream_AndTheHiddenRequestNever()
    {
        // RFC 9112 §6.3: the server may process it by Transfer-Encoding alone and MUST then close the connection,
        // so the bytes after the last chunk are never read as a request of their own.
        const string Request = "POST /x/a HTTP/1.1\r\nHost: g\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x/smuggled HTTP/1.1\r\nHost: g\r\n\r\n";

        var answer = await SendHttp1Async(Request);

        Assert.Contains(Status(answer), new[] { 200, 400 });
        Assert.DoesNotContain(_upstream.RequestLines, line => line.Contains("smuggled", StringComparison.Ordinal));
        foreach (var forwarded in _upstream.RawRequests)
        {
            var head = forwarded[..forwarded.IndexOf("\r\n\r\n", StringComparison.Ordinal)].ToLowerInvariant();
            Assert.False(head.Contains("\r\ncontent-length:", StringComparison.Ordinal) && head.Contains("\r\ntransfer-encoding:", StringComparison.Ordinal), forwarded);
        }
    }

    [Theory]
    [InlineData("obs-text (Latin-1)", new byte[] { 0x63, 0x61, 0x66, 0xE9 })]
    [InlineData("UTF-8", new byte[] { 0x63, 0x61, 0x66, 0xC3, 0xA9, 0x20, 0xE2, 0x82, 0xAC })]
    public async Task Http1_NonAsciiValue_IsRelayedByteForByte(string what, byte[] value)
    {
        // RFC 9110 §5.5: obs-text is allowed in values; the gateway neither refuses nor re-encodes it.
        var request = Encoding.Latin1.GetBytes("GET /x/a HTTP/1.1\r\nHost: g\r\nConnection: close\r\nX-Text: ")
            .Concat(value).Concat("\r\n\r\n"u8.ToArray()).ToArray();

        var answer = await SendHttp1Async(request);

        Assert.True(Status(answer) == 200, $"{what}: {answer}");
        Assert.Contains("\r\nX-Text: " + Encoding.Latin1.GetString(value) + "\r\n", Assert.Single(_upstream.RawRequests), StringComparison.Ordinal);
    }

    public static TheoryData<string, byte[], byte[]> RefusedHttp2Fields() => new()
    {
        { "CR LF in a name", "x-a: b\r\ntransfer-encoding: chunked"u8.ToArray(), "1"u8.ToArray() },
        { "CR LF in a value", "x-a"u8.ToArray(), "b\r\ntransfer-encoding: chunked"u8.ToArray() },
        { "a bare LF in a value", "x-a"u8.ToArray(), "b\ntransfer-encoding: chunked"u8.ToArray() },
        { "NUL in a value", "x-a"u8.ToArray(), "b\0c"u8.ToArray() },
        { "a control character in a value", "x-a"u8.ToArray(), "b\u0001c"u8.ToArray() },
        { "a space in a name", "x a"u8.ToArray(), "1"u8.ToArray() },
        { "a colon in a name", "x:a"u8.ToArray(), "1"u8.ToArray() },
        { "NUL in a name", "x\0a"u8.ToArray(), "1"u8.ToArray() },
        { "non-ASCII in a name", "x-\u00E9"u8.ToArray(), "1"u8.ToArray() },
        { "an upper-case name (RFC 9113 §8.2.1)", "X-A"u8.ToArray(), "1"u8.ToArray() },
        { "a connection-specific field (RFC 9113 §8.2.2)", "transfer-encoding"u8.ToArray(), "chunked"u8.ToArray() },
        { "leading space in a value (RFC 9113 §8.2.1)", "x-a"u8.ToArray(), " b"u8.ToArray() },
    };

    /// <summary>RFC 9113 §8.2.1: a request with such a field is malformed; it must not be forwarded.</summary>
    [Theory]
    [MemberData(nameof(RefusedHttp2Fields))]
    public async Task H2c_MalformedField_IsRefused_AndNothingReachesTheUpstream(string what, byte[] name, byte[] value)
    {
        var outcome = await RawH2cClient.SendAsync(_gateway.H2cEndPoint, "GET", "/x/a", [(name, value)], Ct);

        Assert.True(outcome.Reset || outcome.GoAway || outcome.Status is >= 400 and < 500, $"{what}: {outcome}");
        Assert.Equal(0, _upstream.Requests);
    }

    [Fact]
    public async Task H2c_WellFormedRequest_IsForwarded_WithUtf8ValueBytesUnchanged()
    {
        var outcome = await RawH2cClient.SendAsync(_gateway.H2cEndPoint, "GET", "/x/a", [("x-text"u8.ToArray(), "caf\u00E9"u8.ToArray())], Ct);

        Assert.Equal(200, outcome.Status);
        Assert.Equal("ok", outcome.Body);
        Assert.Contains("\r\nx-text: caf\u00C3\u00A9\r\n", Assert.Single(_upstream.RawRequests), StringComparison.OrdinalIgnoreCase);
    }

    private Task<string> SendHttp1Async(string request) => SendHttp1Async(Encoding.Latin1.GetBytes(request));

    private Task<string> SendHttp1Async(byte[] request) => RawHttp1Client.ExchangeAsync(_gateway.Client.BaseAddress!, request, Ct);

    private static int Status(string answer) =>
        answer.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && answer.Length >= 12 ? int.Parse(answer.AsSpan(9, 3), provider: null) : -1;
}
