using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Portico.Gateway.Versioning;

/// <summary>
/// Adds <c>Deprecation</c>, <c>Sunset</c> and <c>Link: rel="successor-version"</c> to the answers of a route whose metadata
/// deprecates it, and to no other route. A response transform rather than a pipeline step, so that the fields are part of
/// the answer the cache stores and replays (a fresh hit never reaches the route's pipeline). The values were checked with
/// the rest of the gateway file (<see cref="VersioningConfigSection"/>).
/// </summary>
internal sealed class DeprecationTransformProvider : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        if (context.Route.Metadata is not { Count: > 0 } metadata || RouteDeprecation.Read(context.Route.RouteId, metadata, []) is not { } deprecation)
        {
            return;
        }
        context.AddResponseTransform(transform =>
        {
            var headers = transform.HttpContext.Response.Headers;
            // The gateway file is the authority on the route's lifecycle: its values replace the service's own.
            if (deprecation.Deprecation is { } deprecated)
            {
                headers["Deprecation"] = deprecated;
            }
            if (deprecation.Sunset is { } sunset)
            {
                headers["Sunset"] = sunset;
            }
            if (deprecation.Link is { } link)
            {
                headers.Append("Link", link);
            }
            return default;
        });
    }
}
