using System.Net;
using System.Net.Sockets;

namespace Portico.Tests.Common;

/// <summary>
/// A loopback TCP forwarder in front of an engine, so a test can cut one client off from it (an outage as the client
/// sees it: connections reset, new ones refused) while the engine and its data stay up, then restore it on the same port.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly List<TcpClient> _connections = [];
    private readonly Lock _lock = new();
    private TcpListener? _listener;
    private CancellationTokenSource? _running;
    private volatile TaskCompletionSource? _stall; // set while stalled: bytes are held until it completes

    private TcpProxy(int port, IPEndPoint target)
    {
        Port = port;
        _target = target;
    }

    public int Port { get; }

    public static TcpProxy Start(int targetPort)
    {
        var proxy = new TcpProxy(Ports.GetFreeTcpPort(), new IPEndPoint(IPAddress.Loopback, targetPort));
        proxy.Open();
        return proxy;
    }

    /// <summary>Accepts and forwards connections again, on the same port.</summary>
    public void Open()
    {
        _running = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _ = AcceptAsync(_listener, _running.Token);
    }

    /// <summary>
    /// Holds every byte in both directions, on open and new connections alike, until <see cref="Resume"/>: a peer
    /// that hangs (a stalled process, a full network queue) rather than one that is gone. Nothing is lost.
    /// </summary>
    public void Stall() => Interlocked.CompareExchange(ref _stall, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Lets the bytes held by <see cref="Stall"/> through, and forwards as usual again.</summary>
    public void Resume() => Interlocked.Exchange(ref _stall, null)?.TrySetResult();

    /// <summary>Stops listening and resets every open connection.</summary>
    public async Task CutAsync()
    {
        if (_running is not null)
        {
            await _running.CancelAsync();
        }
        _listener?.Stop();
        lock (_lock)
        {
            foreach (var connection in _connections)
            {
                // Reset rather than close politely, as a crashed or unplugged peer would (the socket may be gone already).
                try
                {
                    if (connection.Client is { Connected: true } socket)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException)
                {
                    // A pump closed it meanwhile (its peer went away first): nothing left to reset.
                }
                connection.Dispose();
            }
            _connections.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(_target, cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                client.Dispose();
                upstream.Dispose();
                continue;
            }
            lock (_lock)
            {
                _connections.Add(client);
                _connections.Add(upstream);
            }
            _ = PumpAsync(client, upstream, cancellationToken);
            _ = PumpAsync(upstream, client, cancellationToken);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken cancellationToken)
    {
        try
        {
            var source = from.GetStream();
            var target = to.GetStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                if (_stall is { } stall)
                {
                    await stall.Task.WaitAsync(cancellationToken);
                }
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
        from.Dispose();
        to.Dispose();
    }

    public async ValueTask DisposeAsync() => await CutAsync();
}
