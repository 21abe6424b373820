using Garnet;

namespace Portico.Tests.Common;

/// <summary>
/// The same embedded store the AppHost runs (Garnet, Redis protocol), started in the test process on a
/// free loopback port. Dispose stops it, which is how tests take the store down.
/// </summary>
public sealed class GarnetTestServer : IDisposable
{
    private GarnetServer? _server;

    private GarnetTestServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>StackExchange.Redis connection string.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static GarnetTestServer Start() => Start(Ports.GetFreeTcpPort());

    /// <summary>Starts on <paramref name="port"/>, e.g. the port of one stopped before, to bring "the store" back (empty).</summary>
    public static GarnetTestServer Start(int port)
    {
        var server = new GarnetTestServer(port)
        {
            _server = new GarnetServer(["--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--memory", "64m"]),
        };
        server._server.Start();
        return server;
    }

    public void Dispose()
    {
        _server?.Dispose();
        _server = null;
    }
}
