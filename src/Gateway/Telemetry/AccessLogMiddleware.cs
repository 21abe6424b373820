using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Telemetry;

/// <summary>
/// One line per request: method, path (never the query string, which may carry secrets), status, protocol, route,
/// duration and request id, as a structured log entry under the <see cref="AccessLog.Category"/> category and/or
/// into the batched <see cref="AccessLogFile"/>. With both off the middleware only checks them and calls the next
/// one: no timestamp, no state machine, no allocation. While someone watches the <see cref="LiveRequests"/> (the admin's
/// live stream), each request is counted there too.
/// </summary>
internal sealed class AccessLogMiddleware(RequestDelegate next, ILoggerFactory loggerFactory, AccessLogFile file, LiveRequests live)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(AccessLog.Category);

    public Task InvokeAsync(HttpContext context) =>
        file.Enabled || live.Enabled || _logger.IsEnabled(LogLevel.Information) ? InvokeLoggedAsync(context) : next(context);

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
        var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var endpoint = context.GetEndpoint();
        var route = endpoint?.DisplayName;
        if (live.Enabled && endpoint?.Metadata.GetMetadata<ExcludeFromLiveRequests>() is null)
        {
            live.Record(request.Method, request.Path.Value, route, context.Response.StatusCode, elapsedMs, Activity.Current?.TraceId.ToHexString());
        }
        if (file.Enabled)
        {
            file.Write(request.Method, request.Path.Value, context.Response.StatusCode, request.Protocol, route, elapsedMs, context.TraceIdentifier);
        }
        if (_logger.IsEnabled(LogLevel.Information))
        {
            AccessLog.Request(_logger, request.Method, request.Path.Value, context.Response.StatusCode, request.Protocol, route, elapsedMs, context.TraceIdentifier);
        }
    }
}
