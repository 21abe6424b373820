using System.Net;
using System.Net.Sockets;

namespace Portico.Tests.Common;

/// <summary>Port helpers for hosts that must be told a port before they start.</summary>
public static class Ports
{
    /// <summary>A loopback port that was free a moment ago. Prefer port 0 wherever the host can report back.</summary>
    public static int GetFreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
