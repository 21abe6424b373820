using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Telemetry;

/// <summary>
/// One structured line per request under the <see cref="AccessLog.Category"/> category: method, path (never the
/// query string, which may carry secrets), status, protocol, route, duration and request id. When that category's
/// level is below Information the middleware only checks the level and calls the next one: no timestamp, no
/// state machine, no allocation.
/// </summary>
internal sealed class AccessLogMiddleware(RequestDelegate next, ILoggerFactory loggerFactory)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(AccessLog.Category);

    public Task InvokeAsync(HttpContext context) =>
        _logger.IsEnabled(LogLevel.Information) ? InvokeLoggedAsync(context) : next(context);

    private async Task InvokeLoggedAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var request = context.Request;
            AccessLog.Request(_logger, request.Method, request.Path.Value, context.Response.StatusCode, request.Protocol,
                context.GetEndpoint()?.DisplayName, Stopwatch.GetElapsedTime(started).TotalMilliseconds, context.TraceIdentifier);
        }
    }
}
