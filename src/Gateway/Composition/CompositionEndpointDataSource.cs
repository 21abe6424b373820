using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;

namespace Portico.Gateway.Composition;

/// <summary>
/// One endpoint per composition, rebuilt whenever a new version of the gateway file is accepted. Endpoints
/// carry their authorization like any route: none means the secure default, <c>anonymous</c> opens it. A durable
/// composition is answered through its saga log.
/// </summary>
internal sealed class CompositionEndpointDataSource(GatewayConfigProvider config, CompositionExecutor executor, DurableCompositionHandler durable)
    : GatewayEndpointDataSource<CompositionSettings>(config)
{
    protected override IReadOnlyList<Endpoint> Build(CompositionSettings settings) => [.. settings.Plans.Select(Build)];

    private RouteEndpoint Build(CompositionPlan plan)
    {
        RequestDelegate handler = plan.Durable is null ? context => executor.ExecuteAsync(context, plan) : context => durable.ExecuteAsync(context, plan);
        var builder = new RouteEndpointBuilder(handler, RoutePatternFactory.Parse(plan.Path), order: 0)
        {
            DisplayName = "composition " + plan.Name,
        };
        builder.Metadata.Add(new HttpMethodMetadata([plan.Method]));
        AddAuthorization(builder, plan.AuthorizationPolicy);
        return (RouteEndpoint)builder.Build();
    }
}
