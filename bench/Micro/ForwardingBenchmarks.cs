using System.Buffers;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Forwarding;

namespace Portico.Gateway.Benchmarks;

/// <summary>Portico's HTTP/1.1 forwarder: what it does per request besides the socket calls.</summary>
[MemoryDiagnoser]
public class ForwardingBenchmarks
{
    private static readonly Http1Destination Destination = Http1Destination.TryCreate("http://127.0.0.1:5001/")!;

    // What the bench backend answers to /hello, as Kestrel writes it.
    private static readonly byte[] HelloHead = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nContent-Length: 92\r\nContent-Type: application/json\r\nDate: Thu, 26 Nov 2026 01:00:00 GMT\r\nServer: Kestrel\r\n\r\n");

    private static readonly byte[] Chunked = BuildChunked(4096, 512);

    private DefaultHttpContext _request = null!;
    private DefaultHttpContext _response = null!;
    private readonly byte[] _scratch = new byte[Chunked.Length];

    [GlobalSetup]
    public void Setup()
    {
        // A browser-like GET as wrk and curl send fewer headers than this.
        _request = new DefaultHttpContext();
        _request.Request.Method = HttpMethods.Get;
        _request.Request.Scheme = "http";
        _request.Request.Host = new HostString("shop.example:8080");
        _request.Request.Path = "/api/products/42";
        _request.Request.QueryString = new QueryString("?lang=ko");
        _request.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
        var headers = _request.Request.Headers;
        headers.Accept = "application/json";
        headers.AcceptEncoding = "gzip, br";
        headers.AcceptLanguage = "ko-KR,ko;q=0.9,en;q=0.8";
        headers.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        headers["X-Request-Id"] = "6388d12e6416a22c404f04adfea1e4af";
        _response = new DefaultHttpContext();
    }

    [Benchmark(Description = "request head written (6 headers, X-Forwarded-*)")]
    public int WriteRequestHead()
    {
        var head = new HeadWriter(ArrayPool<byte>.Shared.Rent(4096));
        Http1Forwarder.TryWriteRequestHead(_request, Destination, null, ref head);
        ArrayPool<byte>.Shared.Return(head.Buffer);
        return head.Length;
    }

    [Benchmark(Description = "response head parsed and copied (/hello)")]
    public long ParseAndCopyResponseHead()
    {
        _response.Response.Headers.Clear();
        var parsed = Http1Protocol.ParseHead(HelloHead);
        Http1Protocol.CopyHeaders(HelloHead, parsed, _response.Response);
        return parsed.ContentLength;
    }

    [Benchmark(Description = "chunked body decoded (4 KB in 512 B chunks)")]
    public int DecodeChunked()
    {
        Chunked.CopyTo(_scratch, 0);
        var decoder = new ChunkedDecoder();
        return decoder.Decode(_scratch, out _);
    }

    private static byte[] BuildChunked(int size, int chunk)
    {
        var text = new StringBuilder();
        for (var sent = 0; sent < size; sent += chunk)
        {
            text.Append(chunk.ToString("X", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n").Append('x', chunk).Append("\r\n");
        }
        return Encoding.ASCII.GetBytes(text.Append("0\r\n\r\n").ToString());
    }
}
