using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Portico.Identity.Keys;

/// <summary>
/// Hands the service's own published keys to the JWT bearer handler, in place of fetching a discovery
/// document over HTTP: <c>/api/auth/me</c> validates tokens against exactly what the JWKS publishes.
/// </summary>
internal sealed class SigningKeyConfigurationManager(SigningKeyStore store, IOptions<IdentityServiceOptions> options)
    : IConfigurationManager<OpenIdConnectConfiguration>
{
    private Snapshot? _cached;

    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        var keys = await store.GetKeySetAsync(cancel);
        if (Volatile.Read(ref _cached) is { } cached && ReferenceEquals(cached.Keys, keys))
        {
            return cached.Configuration;
        }

        var configuration = new OpenIdConnectConfiguration { Issuer = options.Value.Issuer };
        foreach (var key in keys.Published)
        {
            configuration.SigningKeys.Add(key.Key);
        }
        Volatile.Write(ref _cached, new Snapshot(keys, configuration));
        return configuration;
    }

    /// <summary>Nothing to do: the store reads the key ring again on its own schedule, whatever kid a caller sends.</summary>
    public void RequestRefresh()
    {
    }

    private sealed record Snapshot(SigningKeySet Keys, OpenIdConnectConfiguration Configuration);
}
