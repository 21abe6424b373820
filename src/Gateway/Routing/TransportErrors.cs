using System.Net.Sockets;

namespace Portico.Gateway.Routing;

internal static class TransportErrors
{
    /// <summary>True when the destination refused or could not be reached: the request never got there.</summary>
    public static bool IsConnectionRefused(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable })
            {
                return true;
            }
        }
        return false;
    }
}
