using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Telemetry;

/// <summary>
/// Gives every request an <c>X-Request-Id</c>: the caller's when it is well formed, else the trace id of
/// the request's activity (so the id finds the trace), else a new one. It is forwarded upstream, echoed on
/// the response, and becomes <see cref="HttpContext.TraceIdentifier"/> so every log scope carries it.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next)
{
    public const string HeaderName = "X-Request-Id";
    private const int MaxLength = 128;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:");

    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Request.Headers;
        var incoming = headers[HeaderName];
        string id;
        if (incoming.Count == 1 && IsWellFormed(incoming[0]))
        {
            id = incoming[0]!;
        }
        else
        {
            id = Activity.Current?.TraceId.ToHexString() ?? ActivityTraceId.CreateRandom().ToHexString();
            headers[HeaderName] = id;
        }

        context.TraceIdentifier = id;
        context.Response.Headers[HeaderName] = id;
        return next(context);
    }

    internal static bool IsWellFormed(string? value) =>
        value is { Length: > 0 and <= MaxLength } && !value.AsSpan().ContainsAnyExcept(Allowed);
}
