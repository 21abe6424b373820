using System.Net;
using System.Net.Sockets;

namespace Portico.Gateway.RateLimiting;

/// <summary>
/// The client address a policy partitioned by address counts under: an IPv4 address as it is (IPv4-mapped IPv6 too),
/// an IPv6 address as its /64 network. One subscriber is usually handed a whole /64, so per-address IPv6 partitions
/// would give a single client 2^64 fresh limits.
/// </summary>
internal static class ClientAddressPartition
{
    public static string Of(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes) + "/64";
    }
}
