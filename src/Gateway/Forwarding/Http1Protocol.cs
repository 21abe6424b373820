using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Portico.Gateway.Forwarding;

/// <summary>Thrown for an upstream answer that is not well-formed HTTP/1.1; the exchange fails as a bad gateway.</summary>
internal sealed class Http1ProtocolException(string message) : Exception(message);

/// <summary>
/// HTTP/1.1 framing for the fast forwarder (RFC 9112): the request head written straight into a byte buffer, and
/// the response head parsed from one, strictly — anything ambiguous (both Content-Length and chunked, two differing
/// lengths, folded lines, bare CR/LF, a control character in a value) fails the exchange rather than being guessed at.
/// </summary>
internal static class Http1Protocol
{
    /// <summary>The largest response head accepted, like Kestrel's default limit on request heads.</summary>
    public const int MaxResponseHeadSize = 64 * 1024;

    /// <summary>
    /// Request headers the forwarder never copies: the connection's own (RFC 9110 §7.6.1), <c>Host</c> (the
    /// destination's is sent), the forwarded headers it sets itself (YARP's default also drops <c>Forwarded</c>), and the identity headers only it may set.
    /// </summary>
    private static readonly FrozenSet<string> SkippedRequestHeaders = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        HeaderNames.Host, HeaderNames.Connection, HeaderNames.KeepAlive, "Proxy-Connection", HeaderNames.ProxyAuthorization,
        HeaderNames.TransferEncoding, HeaderNames.Upgrade, HeaderNames.TE, HeaderNames.Trailer, "Forwarded",
        "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix",
        Security.IdentityForwarding.UserIdHeader, Security.IdentityForwarding.UserRolesHeader);

    /// <summary>
    /// Response headers the client does not get: the upstream connection's own, <c>Alt-Svc</c> (it names the
    /// service's endpoints, not the gateway's), and what the security transforms hide.
    /// </summary>
    private static readonly FrozenSet<string> SkippedResponseHeaders = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        [HeaderNames.Connection, HeaderNames.KeepAlive, "Proxy-Connection", HeaderNames.TransferEncoding, HeaderNames.Upgrade,
         HeaderNames.TE, HeaderNames.Trailer, HeaderNames.AltSvc, .. Security.SecurityHeadersMiddleware.HiddenUpstreamHeaders]);

    /// <summary>Interned names of common response headers, so parsing them allocates nothing.</summary>
    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> KnownNames = BuildKnownNames();

    /// <summary>What a path segment may hold unescaped (RFC 3986 pchar), and the slashes between segments.</summary>
    private static readonly SearchValues<char> PathChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/");

    private static readonly SearchValues<char> ForbiddenInValues = SearchValues.Create("\0\r\n");

    /// <summary>Bytes no field value may hold (RFC 9110 §5.5): controls other than tab, and DEL.</summary>
    private static readonly SearchValues<byte> ControlBytes = SearchValues.Create(
        [.. Enumerable.Range(0, 32).Where(b => b != '\t').Select(b => (byte)b), (byte)0x7F]);

    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static bool IsSkippedRequestHeader(string name) => SkippedRequestHeaders.Contains(name);

    /// <summary>Where the head of a response ends (just past its blank line), or -1 when it has not all arrived.</summary>
    public static int FindHeadEnd(ReadOnlySpan<byte> received)
    {
        var at = received.IndexOf("\r\n\r\n"u8);
        return at < 0 ? -1 : at + 4;
    }

    /// <summary>
    /// Parses and checks a response head (status line and header lines, through the blank line): everything needed
    /// to relay its body and to know whether the connection can be kept. Throws <see cref="Http1ProtocolException"/>
    /// for anything malformed or ambiguous.
    /// </summary>
    public static ResponseHead ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK": the version, three digits, then a reason that may be empty.
        if (head.Length < 16 || !head.StartsWith("HTTP/1."u8) || (head[7] != (byte)'1' && head[7] != (byte)'0') || head[8] != (byte)' '
            || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out var consumed) || consumed != 3 || status < 100
            || (head[12] != (byte)' ' && head[12] != (byte)'\r'))
        {
            throw new Http1ProtocolException("The upstream's status line is not HTTP/1.x.");
        }
        var result = new ResponseHead { Status = status, KeepAlive = head[7] == (byte)'1', ContentLength = -1 };
        var statusLine = head.IndexOf("\r\n"u8);
        if (head[..statusLine].IndexOfAny((byte)'\n', (byte)0) >= 0)
        {
            throw new Http1ProtocolException("The upstream's status line holds a control character.");
        }
        for (var lines = head[(statusLine + 2)..^2]; !lines.IsEmpty;)
        {
            var name = NextHeader(ref lines, out var value);
            if (name.IsEmpty || name.ContainsAnyExcept(TokenBytes))
            {
                throw new Http1ProtocolException("The upstream sent a malformed header line.");
            }
            if (value.ContainsAny(ControlBytes))
            {
                throw new Http1ProtocolException("The upstream sent a control character in a header value.");
            }
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (value.IsEmpty || value.ContainsAnyExceptInRange((byte)'0', (byte)'9')
                    || !Utf8Parser.TryParse(value, out long length, out var used) || used != value.Length
                    || (result.ContentLength >= 0 && result.ContentLength != length))
                {
                    throw new Http1ProtocolException("The upstream sent an invalid Content-Length.");
                }
                result.ContentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                // Only a final "chunked" frames the body; any other coding leaves it delimited by the connection's close.
                var last = value.LastIndexOf((byte)',');
                result.Chunked = Ascii.EqualsIgnoreCase(value[(last + 1)..].Trim(" \t"u8), "chunked"u8);
                result.KeepAlive &= result.Chunked;
                result.HasTransferEncoding = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                result.KeepAlive &= !HasCloseToken(value);
            }
        }
        if (result.HasTransferEncoding && result.ContentLength >= 0)
        {
            // Two framings at once is how responses are smuggled (RFC 9112 §6.3): refuse rather than pick one.
            throw new Http1ProtocolException("The upstream sent both Transfer-Encoding and Content-Length.");
        }
        return result;
    }

    /// <summary>
    /// Copies the end-to-end headers of a head that <see cref="ParseHead"/> accepted to the client's response. Kestrel
    /// refuses (throws for) values it cannot send, such as non-ASCII text: the exchange then fails as a bad gateway.
    /// </summary>
    public static void CopyHeaders(ReadOnlySpan<byte> head, in ResponseHead parsed, HttpResponse response)
    {
        Span<char> scratch = stackalloc char[128];
        var headers = response.Headers;
        for (var lines = head[(head.IndexOf("\r\n"u8) + 2)..^2]; !lines.IsEmpty;)
        {
            var nameBytes = NextHeader(ref lines, out var value);
            if (Ascii.EqualsIgnoreCase(nameBytes, "Content-Length"u8))
            {
                continue; // set once below: the same length may have been repeated
            }
            var name = NameOf(nameBytes, scratch);
            if (!SkippedResponseHeaders.Contains(name))
            {
                headers.Append(name, Encoding.Latin1.GetString(value));
            }
        }
        if (parsed.ContentLength >= 0)
        {
            headers.ContentLength = parsed.ContentLength;
        }
    }

    /// <summary>Splits off the next "name: value" line; the name is empty when the line has no colon.</summary>
    private static ReadOnlySpan<byte> NextHeader(ref ReadOnlySpan<byte> lines, out ReadOnlySpan<byte> value)
    {
        var end = lines.IndexOf("\r\n"u8);
        var line = lines[..end];
        lines = lines[(end + 2)..];
        var colon = line.IndexOf((byte)':');
        value = colon <= 0 ? line : line[(colon + 1)..].Trim(" \t"u8);
        return colon <= 0 ? default : line[..colon];
    }

    private static bool HasCloseToken(ReadOnlySpan<byte> value)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), "close"u8))
            {
                return true;
            }
        }
        return false;
    }

    private static string NameOf(ReadOnlySpan<byte> bytes, Span<char> scratch)
    {
        var chars = bytes.Length <= scratch.Length ? scratch[..bytes.Length] : new char[bytes.Length];
        Encoding.ASCII.GetChars(bytes, chars);
        return KnownNames.TryGetValue(chars, out var known) ? known : new string(chars);
    }

    /// <summary>
    /// Writes Kestrel's decoded request path as a request target, percent-encoding every character a path may not
    /// hold as is — a <c>%</c> included, as YARP does: Kestrel keeps <c>%2F</c> undecoded but decodes <c>%252F</c>
    /// to the same text, so passing a <c>%</c> through would let one turn into the other behind the gateway.
    /// </summary>
    public static void WritePath(ref HeadWriter head, ReadOnlySpan<char> path)
    {
        Span<byte> utf8 = stackalloc byte[4];
        while (!path.IsEmpty)
        {
            var plain = path.IndexOfAnyExcept(PathChars);
            if (plain < 0)
            {
                head.WriteAscii(path);
                return;
            }
            head.WriteAscii(path[..plain]);
            Rune.DecodeFromUtf16(path[plain..], out var rune, out var used); // a lone surrogate becomes U+FFFD
            var length = rune.EncodeToUtf8(utf8);
            foreach (var b in utf8[..length])
            {
                head.Write([(byte)'%', (byte)"0123456789ABCDEF"[b >> 4], (byte)"0123456789ABCDEF"[b & 0xF]]);
            }
            path = path[(plain + used)..];
        }
    }

    /// <summary>
    /// Writes a header line; false when the value cannot travel in HTTP/1.1 (CR, LF, NUL, or a character beyond
    /// Latin-1) — never written, so a value cannot split the head into a second message.
    /// </summary>
    public static bool TryWriteHeader(ref HeadWriter writer, string name, string value)
    {
        if (value.AsSpan().ContainsAny(ForbiddenInValues) || value.AsSpan().ContainsAnyExceptInRange('\0', '\u00FF'))
        {
            return false;
        }
        writer.WriteAscii(name);
        writer.Write(": "u8);
        writer.WriteLatin1(value);
        writer.Write("\r\n"u8);
        return true;
    }

    private static Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> BuildKnownNames()
    {
        string[] names =
        [
            HeaderNames.AcceptRanges, HeaderNames.AccessControlAllowCredentials, HeaderNames.AccessControlAllowHeaders,
            HeaderNames.AccessControlAllowMethods, HeaderNames.AccessControlAllowOrigin, HeaderNames.AccessControlExposeHeaders,
            HeaderNames.AccessControlMaxAge, HeaderNames.Age, HeaderNames.Allow, HeaderNames.AltSvc, HeaderNames.CacheControl,
            HeaderNames.Connection, HeaderNames.ContentDisposition, HeaderNames.ContentEncoding, HeaderNames.ContentLanguage,
            HeaderNames.ContentLength, HeaderNames.ContentLocation, HeaderNames.ContentRange, HeaderNames.ContentSecurityPolicy,
            HeaderNames.ContentType, HeaderNames.Date, HeaderNames.ETag, HeaderNames.Expires, HeaderNames.KeepAlive,
            HeaderNames.LastModified, HeaderNames.Link, HeaderNames.Location, HeaderNames.Pragma, HeaderNames.RetryAfter,
            HeaderNames.Server, HeaderNames.SetCookie, HeaderNames.StrictTransportSecurity, HeaderNames.TransferEncoding,
            HeaderNames.Trailer, HeaderNames.Upgrade, HeaderNames.Vary, HeaderNames.WWWAuthenticate, HeaderNames.XContentTypeOptions,
            HeaderNames.XPoweredBy, HeaderNames.XFrameOptions, HeaderNames.RequestId, "X-Request-Id", HeaderNames.TraceParent,
        ];
        var map = new Dictionary<string, string>(names.Length, StringComparer.Ordinal);
        foreach (var name in names)
        {
            // Ordinal: a name is reused only when the upstream spelled it the same way, so clients see its spelling.
            map[name] = name;
            map[name.ToLowerInvariant()] = name.ToLowerInvariant();
        }
        return map.GetAlternateLookup<ReadOnlySpan<char>>();
    }
}

/// <summary>
/// Decodes a chunked body (RFC 9112 §7.1) in place: the data of each block is moved down over the framing around
/// it, so a block with several chunks is relayed with one write. Chunk extensions and trailers are read and dropped.
/// </summary>
internal struct ChunkedDecoder
{
    private const int MaxLineLength = 4096;

    private enum State
    {
        Size,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    private State _state;
    private long _left;

    public readonly bool Done => _state == State.Done;

    /// <summary>
    /// Decodes what it can of <paramref name="block"/>: returns how many data bytes now lie at its start, and in
    /// <paramref name="consumed"/> how far it read. An incomplete size or trailer line is left unconsumed.
    /// </summary>
    public int Decode(Span<byte> block, out int consumed)
    {
        int read = 0, written = 0;
        while (read < block.Length && _state != State.Done)
        {
            var rest = block[read..];
            switch (_state)
            {
                case State.Size:
                {
                    var end = rest.IndexOf("\r\n"u8);
                    if (end < 0)
                    {
                        goto NeedMore;
                    }
                    _left = ParseSize(rest[..end]);
                    read += end + 2;
                    _state = _left == 0 ? State.Trailers : State.Data;
                    break;
                }
                case State.Data:
                {
                    var take = (int)Math.Min(_left, rest.Length);
                    rest[..take].CopyTo(block[written..]);
                    written += take;
                    read += take;
                    _left -= take;
                    if (_left == 0)
                    {
                        _state = State.DataEnd;
                    }
                    break;
                }
                case State.DataEnd:
                    if (rest.Length < 2)
                    {
                        goto NeedMore;
                    }
                    if (!rest.StartsWith("\r\n"u8))
                    {
                        throw new Http1ProtocolException("A chunk of the upstream's body does not end with CRLF.");
                    }
                    read += 2;
                    _state = State.Size;
                    break;
                case State.Trailers:
                {
                    var end = rest.IndexOf("\r\n"u8);
                    if (end < 0)
                    {
                        goto NeedMore;
                    }
                    read += end + 2;
                    if (end == 0)
                    {
                        _state = State.Done;
                    }
                    break;
                }
            }
        }
        consumed = read;
        return written;

    NeedMore:
        if (block.Length - read > MaxLineLength)
        {
            throw new Http1ProtocolException("A chunk-size or trailer line of the upstream's body is too long.");
        }
        consumed = read;
        return written;
    }

    private static long ParseSize(ReadOnlySpan<byte> line)
    {
        // Hex digits, then optional whitespace and extensions (";name=value"), which mean nothing here.
        var digits = line.IndexOfAnyExcept("0123456789abcdefABCDEF"u8);
        var hex = digits < 0 ? line : line[..digits];
        var tail = digits < 0 ? default : line[digits..].TrimStart(" \t"u8);
        if (hex.IsEmpty || hex.Length > 15 || (!tail.IsEmpty && tail[0] != (byte)';')
            || !Utf8Parser.TryParse(hex, out long size, out var used, 'X') || used != hex.Length)
        {
            throw new Http1ProtocolException("The upstream sent an invalid chunk size.");
        }
        return size;
    }
}

/// <summary>What the forwarder needs from a response head to relay its body and keep its connection.</summary>
internal struct ResponseHead
{
    public int Status;
    public long ContentLength; // -1: none given
    public bool Chunked;
    public bool HasTransferEncoding;
    public bool KeepAlive;
}

/// <summary>Builds a request head in a buffer that grows (by renting a larger one) as needed.</summary>
internal struct HeadWriter(byte[] buffer)
{
    public byte[] Buffer { get; private set; } = buffer;

    public int Length { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(Buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void WriteAscii(ReadOnlySpan<char> text)
    {
        Ensure(text.Length);
        Length += Encoding.ASCII.GetBytes(text, Buffer.AsSpan(Length));
    }

    public void WriteLatin1(string text)
    {
        Ensure(text.Length);
        Length += Encoding.Latin1.GetBytes(text, Buffer.AsSpan(Length));
    }

    public void WriteFormatted<T>(T value) where T : IUtf8SpanFormattable
    {
        Ensure(64);
        if (!value.TryFormat(Buffer.AsSpan(Length), out var written, default, null))
        {
            throw new InvalidOperationException("A formatted value did not fit its 64 bytes.");
        }
        Length += written;
    }

    private void Ensure(int more)
    {
        if (Length + more <= Buffer.Length)
        {
            return;
        }
        // The smaller buffer is left to its owner (a connection, or the collector), never returned to the pool here.
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(Buffer.Length * 2, Length + more));
        Buffer.AsSpan(0, Length).CopyTo(larger);
        Buffer = larger;
    }
}
