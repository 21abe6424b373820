using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Routing;

/// <summary>
/// Answers 413 before a destination is even chosen when the declared length exceeds the route's limit
/// (YARP's <c>MaxRequestBodySize</c>, else the server default). A chunked body has no declared length:
/// it streams until the limit, and then the upstream request is aborted.
/// </summary>
internal sealed class RequestBodyLimit(IOptions<KestrelServerOptions> kestrel)
{
    private readonly long? _serverLimit = kestrel.Value.Limits.MaxRequestBodySize;

    public Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var length = context.Request.ContentLength;
        if (length is null)
        {
            return next();
        }

        var routeLimit = context.GetReverseProxyFeature().Route.Config.MaxRequestBodySize;
        long? limit = routeLimit switch
        {
            null => _serverLimit,
            -1 => null,
            _ => routeLimit,
        };
        if (length <= limit || limit is null)
        {
            return next();
        }
        return GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
            $"The body is {length} bytes; this route accepts at most {limit}.").AsTask();
    }
}
