using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;
using Portico.Gateway.Configuration;
using Portico.Gateway.Security;

namespace Portico.Gateway.Routing;

/// <summary>
/// Endpoints the gateway answers itself (compositions, transcoded methods), built from one section of the
/// gateway file and rebuilt only when a new version of that section is accepted.
/// </summary>
internal abstract class GatewayEndpointDataSource<TSettings>(GatewayConfigProvider config) : EndpointDataSource
    where TSettings : class
{
    private readonly Lock _lock = new();
    private TSettings? _builtFrom;
    private IReadOnlyList<Endpoint> _endpoints = [];

    public override IReadOnlyList<Endpoint> Endpoints
    {
        get
        {
            var settings = config.GetSection<TSettings>();
            lock (_lock)
            {
                if (!ReferenceEquals(settings, _builtFrom))
                {
                    _endpoints = Build(settings);
                    _builtFrom = settings;
                }
                return _endpoints;
            }
        }
    }

    public override IChangeToken GetChangeToken() => config.GetChangeToken();

    protected abstract IReadOnlyList<Endpoint> Build(TSettings settings);

    /// <summary>Authorization like a route's: none means the secure default, <c>anonymous</c> opens it, else a policy name.</summary>
    internal static void AddAuthorization(EndpointBuilder builder, string? policy)
    {
        if (string.Equals(policy, GatewayAuthorizationPolicies.Anonymous, StringComparison.OrdinalIgnoreCase))
        {
            builder.Metadata.Add(new AllowAnonymousAttribute());
        }
        else if (policy is { Length: > 0 })
        {
            builder.Metadata.Add(new AuthorizeAttribute(policy));
        }
    }
}
