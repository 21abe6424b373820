using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Portico.Identity.Lockout;

/// <summary>
/// Sets ASP.NET Core's forwarded-headers middleware to take the client address from <c>X-Forwarded-For</c> only
/// when the connection comes from <see cref="IdentityServiceOptions.TrustedProxies"/> (loopback in Development
/// when unset, nobody elsewhere), and only the last hop, which the trusted proxy itself wrote.
/// </summary>
internal sealed class TrustedProxies(IOptions<IdentityServiceOptions> identity, IHostEnvironment environment)
    : IConfigureOptions<ForwardedHeadersOptions>
{
    public void Configure(ForwardedHeadersOptions options)
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
        options.ForwardLimit = 1;
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        var configured = identity.Value.TrustedProxies
            ?? (environment.IsDevelopment() ? ["127.0.0.0/8", "::1/128"] : []);
        foreach (var entry in configured)
        {
            if (TryParse(entry, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
        }
    }

    /// <summary>An address (taken as a network of one) or a CIDR network.</summary>
    public static bool TryParse(string? value, out System.Net.IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }
        if (IPAddress.TryParse(value, out var address))
        {
            network = new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        return System.Net.IPNetwork.TryParse(value, out network);
    }
}
