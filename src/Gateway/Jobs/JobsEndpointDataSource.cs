using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;

namespace Portico.Gateway.Jobs;

/// <summary>
/// One endpoint per job route of the gateway file (rebuilt when a new version is accepted), and the status endpoints
/// <c>GET|DELETE {StatusPath}/{id}</c> for any signed-in user (the job's owner sees it; anyone else gets 404).
/// </summary>
internal sealed class JobsEndpointDataSource(GatewayConfigProvider config, JobsApi api, IOptions<JobsOptions> options)
    : GatewayEndpointDataSource<JobsSettings>(config)
{
    protected override IReadOnlyList<Endpoint> Build(JobsSettings settings)
    {
        var endpoints = new List<Endpoint>();
        foreach (var route in settings.Routes)
        {
            var builder = new RouteEndpointBuilder(context => api.GuardAsync(context, c => api.SubmitAsync(c, route)), RoutePatternFactory.Parse(route.Path), order: 0)
            {
                DisplayName = "job " + route.Name,
            };
            builder.Metadata.Add(new HttpMethodMetadata([route.Method]));
            AddAuthorization(builder, route.AuthorizationPolicy);
            endpoints.Add(builder.Build());
        }
        var status = RoutePatternFactory.Parse(options.Value.StatusPath + "/{id:guid}");
        endpoints.Add(Status(status, HttpMethods.Get, "job status", context => api.GuardAsync(context, api.GetAsync)));
        endpoints.Add(Status(status, HttpMethods.Delete, "job cancel", context => api.GuardAsync(context, api.CancelAsync)));
        return endpoints;
    }

    private static Endpoint Status(RoutePattern pattern, string method, string name, RequestDelegate handler)
    {
        var builder = new RouteEndpointBuilder(handler, pattern, order: 0) { DisplayName = name };
        builder.Metadata.Add(new HttpMethodMetadata([method]));
        AddAuthorization(builder, GatewayAuthorizationPolicies.User);
        return builder.Build();
    }
}
