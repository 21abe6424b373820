using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Portico.Gateway.Forwarding;

/// <summary>
/// One plain-HTTP destination of the fast forwarder and its idle keep-alive connections. The most recently used
/// connection is handed out first (it is the least likely to have been closed by the server); the oldest ones are
/// closed by <see cref="CloseIdle"/> before a server's own keep-alive timeout would close them under us.
/// </summary>
internal sealed class Http1Destination
{
    private readonly Lock _lock = new();
    private readonly List<Http1Connection> _idle = [];

    private Http1Destination(EndPoint endPoint, string host, int port, string authority, string basePath)
    {
        EndPoint = endPoint;
        Host = host;
        Port = port;
        Authority = authority;
        AuthorityBytes = Encoding.ASCII.GetBytes(authority);
        BasePath = basePath;
    }

    public EndPoint EndPoint { get; }

    public string Host { get; }

    public int Port { get; }

    /// <summary>host[:port], the <c>Host</c> header unless the destination configures its own.</summary>
    public string Authority { get; }

    public byte[] AuthorityBytes { get; }

    /// <summary>The destination address's path without its trailing slash ("" for none), put before the request path.</summary>
    public string BasePath { get; }

    /// <summary>A destination for <paramref name="prefix"/>, or null when the fast forwarder does not serve it (TLS, a query, user info).</summary>
    public static Http1Destination? TryCreate(string prefix)
    {
        if (!Uri.TryCreate(prefix, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp
            || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            return null;
        }
        EndPoint endPoint = IPAddress.TryParse(uri.IdnHost, out var address)
            ? new IPEndPoint(address, uri.Port)
            : new DnsEndPoint(uri.IdnHost, uri.Port);
        var host = uri.HostNameType == UriHostNameType.IPv6 ? "[" + uri.IdnHost + "]" : uri.IdnHost;
        var authority = uri.IsDefaultPort ? host : host + ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new Http1Destination(endPoint, uri.IdnHost, uri.Port, authority, uri.AbsolutePath.TrimEnd('/'));
    }

    public int IdleCount
    {
        get
        {
            lock (_lock)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>An idle connection, most recent first; null when there is none.</summary>
    public Http1Connection? Rent()
    {
        lock (_lock)
        {
            if (_idle.Count == 0)
            {
                return null;
            }
            var connection = _idle[^1];
            _idle.RemoveAt(_idle.Count - 1);
            return connection;
        }
    }

    public void Return(Http1Connection connection, long now)
    {
        connection.IdleSince = now;
        lock (_lock)
        {
            _idle.Add(connection);
        }
    }

    public async ValueTask<Http1Connection> ConnectAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var socket = EndPoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(EndPoint, cancellationToken);
            return new Http1Connection(socket, time);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes the connections idle since before <paramref name="idleSince"/> (a timestamp).</summary>
    public void CloseIdle(long idleSince)
    {
        List<Http1Connection>? closing = null;
        lock (_lock)
        {
            // Oldest first: the list is in return order.
            var stale = 0;
            while (stale < _idle.Count && _idle[stale].IdleSince < idleSince)
            {
                stale++;
            }
            if (stale > 0)
            {
                closing = _idle.GetRange(0, stale);
                _idle.RemoveRange(0, stale);
            }
        }
        closing?.ForEach(static c => c.Dispose());
    }
}

/// <summary>A keep-alive connection to a destination and the timer that bounds each exchange on it.</summary>
internal sealed class Http1Connection(Socket socket, TimeProvider time) : IDisposable
{
    public Socket Socket { get; } = socket;

    /// <summary>Cancelled by the exchange's activity timeout or by the caller; reset before the connection is reused.</summary>
    public CancellationTokenSource Timeout { get; } = new(System.Threading.Timeout.InfiniteTimeSpan, time);

    /// <summary>Whether the connection served an exchange before (a reused one may have been closed by the server meanwhile).</summary>
    public bool Reused { get; set; }

    /// <summary>Where answers are read: 8 KB, so that a 4 KB answer and its head arrive in one read and leave in one write.</summary>
    public byte[] ReadBuffer { get; } = new byte[8 * 1024];

    /// <summary>Where the next request head is written: the buffer the previous one used, kept unless it grew large.</summary>
    public byte[]? WriteBuffer { get; private set; }

    /// <summary>Keeps <paramref name="buffer"/>, which carried this connection's last request head, for its next one.</summary>
    public void Adopt(byte[] buffer) => WriteBuffer = buffer.Length <= 16 * 1024 ? buffer : WriteBuffer;

    /// <summary>The <see cref="TimeProvider"/> timestamp of its return to the destination's idle list.</summary>
    public long IdleSince { get; set; }

    public void Dispose()
    {
        Socket.Dispose();
        Timeout.Dispose();
    }
}
