using System.Net;
using System.Net.Sockets;

namespace Portico.Identity.Lockout;

/// <summary>
/// The client address that failed logins are counted against: IPv4 as it is, IPv6 as its /64 network (one
/// subscriber usually holds a whole /64, so counting single IPv6 addresses would count nothing), IPv4-mapped
/// IPv6 as the IPv4 address. The address comes from the connection, or from <c>X-Forwarded-For</c> when the
/// peer is a trusted proxy (see <see cref="IdentityServiceOptions.TrustedProxies"/>).
/// </summary>
internal static class ClientAddress
{
    /// <summary>Stands for a connection without an IP address (a Unix socket, an in-memory test server).</summary>
    public const string Unknown = "unknown";

    public static string Group(IPAddress? address)
    {
        if (address is null)
        {
            return Unknown;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
