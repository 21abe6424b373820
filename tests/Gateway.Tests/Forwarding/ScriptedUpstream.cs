using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Portico.Gateway.Tests;

/// <summary>How the upstream's connection ends after a reply: kept open, closed cleanly (FIN) or reset (RST).</summary>
internal enum ReplyEnd { KeepOpen, Close, Reset }

/// <summary>
/// What the upstream does with one request: writes the parts in order, pausing between them, then ends the connection
/// as told. <see cref="ReadBody"/> false answers straight after the head, leaving any body unread on the socket;
/// <see cref="Silent"/> never answers and holds the connection open.
/// </summary>
internal sealed record Reply(IReadOnlyList<byte[]> Parts, ReplyEnd End = ReplyEnd.KeepOpen, bool ReadBody = true, bool Silent = false)
{
    /// <summary>Closes the connection without a byte of answer, after reading the whole request.</summary>
    public static Reply Hangup { get; } = new([], ReplyEnd.Close);

    /// <summary>Resets the connection without a byte of answer, after reading the whole request.</summary>
    public static Reply ResetAfterRequest { get; } = new([], ReplyEnd.Reset);

    /// <summary>Reads the request and never answers.</summary>
    public static Reply Silence { get; } = new([], Silent: true);

    public static Reply Of(string bytes, bool close = false) => new([Encoding.Latin1.GetBytes(bytes)], close ? ReplyEnd.Close : ReplyEnd.KeepOpen);

    public static Reply Split(params string[] parts) => Split(false, parts);

    public static Reply Split(bool close, params string[] parts) => new(parts.Select(Encoding.Latin1.GetBytes).ToArray(), close ? ReplyEnd.Close : ReplyEnd.KeepOpen);
}

/// <summary>
/// A raw TCP upstream that misbehaves on cue: reads each request head and its body (Content-Length or chunked)
/// byte by byte as sent, answers the gateway's health probes itself and every other request from the script
/// (given the request's number, from 1). It records every scripted request's raw bytes and counts the connections
/// that carried one, so tests can see exactly what reached it and tell reuse from new connections.
/// </summary>
internal sealed class ScriptedUpstream : IAsyncDisposable
{
    private static readonly TimeSpan PartDelay = TimeSpan.FromMilliseconds(30);
    private static readonly byte[] HealthAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray();

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<int, string, Reply> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _serving = [];
    private readonly Task _accepting;
    private int _requests;
    private int _connections;
    private int _closed;
    private int _sent;

    public ScriptedUpstream(Func<int, Reply> script) : this((n, _) => script(n))
    {
    }

    /// <summary>A script that also sees the request line, to answer each request by what it asks for.</summary>
    public ScriptedUpstream(Func<int, string, Reply> script)
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

    /// <summary>Replies whose every part has been written.</summary>
    public int RepliesSent => Volatile.Read(ref _sent);

    /// <summary>The request lines of the scripted requests, in arrival order.</summary>
    public ConcurrentQueue<string> RequestLines { get; } = new();

    /// <summary>Each scripted request as it arrived, head and (when read) body, decoded as Latin-1 so every byte shows.</summary>
    public ConcurrentQueue<string> RawRequests { get; } = new();

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
        var buffer = new Buffer(socket, _stop.Token);
        try
        {
            while (true)
            {
                var headEnd = await buffer.FillUntilAsync("\r\n\r\n"u8.ToArray());
                if (headEnd < 0)
                {
                    return;
                }
                var head = buffer.Take(headEnd + 4);
                var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
                var requestLine = head[..lineEnd];
                if (requestLine.Split(' ').Length != 3)
                {
                    return; // no request line (say, an unread body taken for one): close, as a server would after a 400
                }
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
                var reply = _script(Interlocked.Increment(ref _requests), requestLine);
                var body = reply.ReadBody ? await ReadBodyAsync(buffer, head) : "";
                RawRequests.Enqueue(head + body);
                if (reply.Silent)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                for (var i = 0; i < reply.Parts.Count; i++)
                {
                    if (i > 0)
                    {
                        await Task.Delay(PartDelay, _stop.Token);
                    }
                    await socket.SendAsync(reply.Parts[i], SocketFlags.None, _stop.Token);
                }
                Interlocked.Increment(ref _sent);
                if (reply.End == ReplyEnd.Reset)
                {
                    socket.LingerState = new LingerOption(true, 0); // close with RST
                    return;
                }
                if (reply.End == ReplyEnd.Close)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or EndOfStreamException)
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

    /// <summary>The body as framed by the head: Content-Length bytes, or chunks up to the last one (no trailers).</summary>
    private static async Task<string> ReadBodyAsync(Buffer buffer, string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                var length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                await buffer.FillAsync(length);
                return buffer.Take(length);
            }
            if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var end = await buffer.FillUntilAsync("0\r\n\r\n"u8.ToArray());
                return end < 0 ? throw new EndOfStreamException() : buffer.Take(end + 5);
            }
        }
        return "";
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

    /// <summary>Bytes received on one connection and not yet consumed.</summary>
    private sealed class Buffer(Socket socket, CancellationToken stop)
    {
        private byte[] _bytes = new byte[8192];
        private int _have;

        /// <summary>Reads until <paramref name="marker"/> is held; its index, or -1 when the peer closed first.</summary>
        public async Task<int> FillUntilAsync(byte[] marker)
        {
            int at;
            while ((at = _bytes.AsSpan(0, _have).IndexOf(marker)) < 0)
            {
                if (!await ReceiveAsync())
                {
                    return -1;
                }
            }
            return at;
        }

        public async Task FillAsync(int count)
        {
            while (_have < count)
            {
                if (!await ReceiveAsync())
                {
                    throw new EndOfStreamException();
                }
            }
        }

        /// <summary>Consumes the first <paramref name="count"/> bytes.</summary>
        public string Take(int count)
        {
            var text = Encoding.Latin1.GetString(_bytes, 0, count);
            _bytes.AsSpan(count, _have - count).CopyTo(_bytes);
            _have -= count;
            return text;
        }

        private async Task<bool> ReceiveAsync()
        {
            if (_have == _bytes.Length)
            {
                Array.Resize(ref _bytes, _bytes.Length * 2);
            }
            var got = await socket.ReceiveAsync(_bytes.AsMemory(_have), SocketFlags.None, stop);
            _have += got;
            return got > 0;
        }
    }
}
