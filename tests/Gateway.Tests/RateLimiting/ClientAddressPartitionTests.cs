using System.Net;
using Portico.Gateway.RateLimiting;

namespace Portico.Gateway.Tests.RateLimiting;

/// <summary>Address partitions of rate-limit policies: IPv6 counted by /64 (issue 27, gap 6).</summary>
public sealed class ClientAddressPartitionTests
{
    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff")]
    [InlineData("2001:db8:1:2:aaaa::", "2001:db8:1:2:bbbb:cccc:dddd:eeee")]
    [InlineData("203.0.113.7", "::ffff:203.0.113.7")]
    public void Of_AddressesOfOneSubscriber_ShareAPartition(string a, string b) =>
        Assert.Equal(ClientAddressPartition.Of(IPAddress.Parse(a)), ClientAddressPartition.Of(IPAddress.Parse(b)));

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1")]
    [InlineData("203.0.113.7", "203.0.113.8")]
    public void Of_DifferentSubscribers_GetDifferentPartitions(string a, string b) =>
        Assert.NotEqual(ClientAddressPartition.Of(IPAddress.Parse(a)), ClientAddressPartition.Of(IPAddress.Parse(b)));

    [Fact]
    public void Of_Ipv6_NamesTheSlash64() =>
        Assert.Equal("2001:db8:1:2::/64", ClientAddressPartition.Of(IPAddress.Parse("2001:db8:1:2:3:4:5:6")));
}
