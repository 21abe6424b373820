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

    private Task InvokeLoggedAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        Task pending;
        try
        {
            pending = next(context);
        }
        catch
        {
            Write(context, started);
            throw;
        }
        // A request answered synchronously (a cache hit, a 404) costs no async frame.
        if (pending.IsCompletedSuccessfully)
        {
            Write(context, started);
            return Task.CompletedTask;
        }
        return AwaitThenWriteAsync(pending, context, started);
    }

    private async Task AwaitThenWriteAsync(Task pending, HttpContext context, long started)
    {
        try
        {
            await pending;
        }
        finally
        {
            Write(context, started);
        }
    }

    private void Write(HttpContext context, long started)
    {
        var request = context.Request;
        AccessLog.Request(_logger, request.Method, request.Path.Value, context.Response.StatusCode, request.Protocol,
            context.GetEndpoint()?.DisplayName, Stopwatch.GetElapsedTime(started).TotalMilliseconds, context.TraceIdentifier);
    }
}
