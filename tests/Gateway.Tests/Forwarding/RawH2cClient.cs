using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Portico.Gateway.Tests;

/// <summary>
/// Sends one request as raw HTTP/2 frames over cleartext (prior knowledge, RFC 9113 §3.3), with header names and
/// values as arbitrary bytes that no well-behaved client library would send, and reports how the server ended the
/// stream. Header blocks are HPACK literals without indexing and without Huffman coding (RFC 7541 §6.2.2), which
/// every decoder must accept.
/// </summary>
internal static class RawH2cClient
{
    private const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, GoAway = 0x7;
    private const byte EndStream = 0x1, EndHeaders = 0x4, Ack = 0x1;

    /// <summary>How the stream ended: the response's status, or the reset or goaway the server sent instead.</summary>
    public sealed record Outcome(int Status, bool Reset, bool GoAway, string Body)
    {
        public override string ToString() => Reset ? "RST_STREAM" : GoAway ? "GOAWAY" : $"{Status} {Body}";
    }

    public static async Task<Outcome> SendAsync(IPEndPoint endPoint, string method, string path, IEnumerable<(byte[] Name, byte[] Value)> headers, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endPoint, ct);
        var stream = tcp.GetStream();

        var block = new MemoryStream();
        foreach (var (name, value) in new[] { (":method", method), (":scheme", "http"), (":path", path), (":authority", "gateway") }
                     .Select(p => (Encoding.ASCII.GetBytes(p.Item1), Encoding.ASCII.GetBytes(p.Item2))).Concat(headers))
        {
            block.WriteByte(0x00); // literal header field without indexing, new name
            WriteString(block, name);
            WriteString(block, value);
        }

        var output = new MemoryStream();
        output.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        WriteFrame(output, Settings, 0, 0, []);
        WriteFrame(output, Headers, EndStream | EndHeaders, 1, block.ToArray());
        await stream.WriteAsync(output.ToArray(), ct);

        var status = 0;
        var body = new StringBuilder();
        var head = new byte[9];
        while (true)
        {
            if (!await ReadExactlyOrEndAsync(stream, head, ct))
            {
                return new Outcome(status, Reset: false, GoAway: status == 0, body.ToString());
            }
            var length = (head[0] << 16) | (head[1] << 8) | head[2];
            var type = head[3];
            var flags = head[4];
            var streamId = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(5)) & 0x7FFFFFFF;
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, ct);
            switch (type)
            {
                case Settings when (flags & Ack) == 0:
                    await stream.WriteAsync(Frame(Settings, Ack, 0, []), ct);
                    break;
                case Headers when streamId == 1:
                    status = status == 0 ? ReadStatus(payload, flags) : status;
                    if ((flags & EndStream) != 0)
                    {
                        return new Outcome(status, false, false, body.ToString());
                    }
                    break;
                case Data when streamId == 1:
                    body.Append(Encoding.UTF8.GetString(payload));
                    if ((flags & EndStream) != 0)
                    {
                        return new Outcome(status, false, false, body.ToString());
                    }
                    break;
                case RstStream when streamId == 1:
                    return new Outcome(status, Reset: true, GoAway: false, body.ToString());
                case GoAway:
                    return new Outcome(status, Reset: false, GoAway: true, body.ToString());
            }
        }
    }

    /// <summary>
    /// The :status of a response header block, which servers send first: an indexed field for the statuses in the
    /// static table (RFC 7541 Appendix A, indexes 8-14), else a literal with the :status name index and three digits.
    /// </summary>
    private static int ReadStatus(byte[] payload, byte flags)
    {
        var at = (flags & 0x8) != 0 ? 1 : 0; // PADDED
        at += (flags & 0x20) != 0 ? 5 : 0;   // PRIORITY
        var first = payload[at];
        if ((first & 0x80) != 0)
        {
            return (first & 0x7F) switch { 8 => 200, 9 => 204, 10 => 206, 11 => 304, 12 => 400, 13 => 404, 14 => 500, var i => throw new InvalidDataException($"indexed field {i} first") };
        }
        var lengthByte = payload[at + 1];
        if ((lengthByte & 0x80) != 0)
        {
            throw new InvalidDataException("a Huffman-coded :status");
        }
        return int.Parse(Encoding.ASCII.GetString(payload, at + 2, lengthByte & 0x7F), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void WriteString(Stream output, byte[] bytes)
    {
        // RFC 7541 §5.1: an integer with a 7-bit prefix (the H bit clear: no Huffman).
        var length = bytes.Length;
        if (length < 0x7F)
        {
            output.WriteByte((byte)length);
        }
        else
        {
            output.WriteByte(0x7F);
            length -= 0x7F;
            while (length >= 0x80)
            {
                output.WriteByte((byte)((length & 0x7F) | 0x80));
                length >>= 7;
            }
            output.WriteByte((byte)length);
        }
        output.Write(bytes);
    }

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        var output = new MemoryStream();
        WriteFrame(output, type, flags, streamId, payload);
        return output.ToArray();
    }

    private static void WriteFrame(Stream output, byte type, byte flags, int streamId, byte[] payload)
    {
        Span<byte> head = stackalloc byte[9];
        head[0] = (byte)(payload.Length >> 16);
        head[1] = (byte)(payload.Length >> 8);
        head[2] = (byte)payload.Length;
        head[3] = type;
        head[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(head[5..], streamId);
        output.Write(head);
        output.Write(payload);
    }

    private static async Task<bool> ReadExactlyOrEndAsync(NetworkStream stream, byte[] buffer, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct);
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return false;
        }
    }
}
