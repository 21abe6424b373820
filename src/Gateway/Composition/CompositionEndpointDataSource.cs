using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Primitives;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Composition;

/// <summary>
/// One endpoint per composition, rebuilt whenever a new version of the gateway file is accepted. Endpoints
/// carry their authorization like any route: none means the secure default, <c>anonymous</c> opens it.
/// </summary>
internal sealed class CompositionEndpointDataSource(GatewayConfigProvider config, CompositionExecutor executor) : EndpointDataSource
{
    private readonly Lock _lock = new();
    private CompositionSettings? _builtFrom;
    private IReadOnlyList<Endpoint> _endpoints = [];

    public override IReadOnlyList<Endpoint> Endpoints
    {
        get
        {
            var settings = config.GetSection<CompositionSettings>();
            lock (_lock)
            {
                if (!ReferenceEquals(settings, _builtFrom))
                {
                    _endpoints = [.. settings.Plans.Select(Build)];
                    _builtFrom = settings;
                }
                return _endpoints;
            }
        }
    }

    public override IChangeToken GetChangeToken() => config.GetChangeToken();

    private RouteEndpoint Build(CompositionPlan plan)
    {
        var builder = new RouteEndpointBuilder(context => executor.ExecuteAsync(context, plan), RoutePatternFactory.Parse(plan.Path), order: 0)
        {
            DisplayName = "composition " + plan.Name,
        };
        builder.Metadata.Add(new HttpMethodMetadata([plan.Method]));
        if (string.Equals(plan.AuthorizationPolicy, "anonymous", StringComparison.OrdinalIgnoreCase))
        {
            builder.Metadata.Add(new AllowAnonymousAttribute());
        }
        else if (plan.AuthorizationPolicy is { Length: > 0 } policy)
        {
            builder.Metadata.Add(new AuthorizeAttribute(policy));
        }
        return (RouteEndpoint)builder.Build();
    }
}
