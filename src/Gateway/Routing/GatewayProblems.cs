using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Portico.Gateway.Routing;

/// <summary>Every answer the gateway makes itself is <c>application/problem+json</c>.</summary>
internal static class GatewayProblems
{
    /// <summary>
    /// Writes the problem; <paramref name="errors"/> (field → what is wrong) goes under <c>errors</c> as in a validation
    /// problem, and <paramref name="extensions"/> are more members of the problem object (a gRPC status with its details).
    /// </summary>
    public static ValueTask WriteAsync(HttpContext context, int status, string title, string detail, IReadOnlyDictionary<string, string[]>? errors = null,
        IEnumerable<KeyValuePair<string, object?>>? extensions = null)
    {
        context.Response.StatusCode = status;
        if (status >= StatusCodes.Status500InternalServerError && context.Features.Get<FailureFallbackFeature>() is { } fallback)
        {
            // A stale entry will answer instead (stale-if-error); the caching step writes it.
            fallback.UpstreamFailed = true;
            return default;
        }
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }
        foreach (var (name, value) in extensions ?? [])
        {
            problem.Extensions[name] = value;
        }
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }
}
