using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Portico.Gateway.Routing;

namespace Portico.Gateway.Security;

/// <summary>
/// The edge's last word on a request head, before anything reads it: Kestrel parses the framing, and this refuses
/// with a 400 what Kestrel lets through but the gateway could not pass on unchanged and unambiguously, so a parser
/// behind the gateway never reads a head differently from it and YARP's client never fails on it with a 502.
/// </summary>
internal static class RequestHeaderRules
{
    /// <summary>RFC 9110 §5.1: a field name is a token (§5.6.2 tchar).</summary>
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>
    /// RFC 9110 §5.5: field-vchar, SP and HTAB; obs-text (0x80-0xFF) too, as Kestrel hands over each byte as one
    /// Latin-1 char. CR, LF and NUL are "invalid and dangerous"; the other controls and DEL are not field content.
    /// </summary>
    private static readonly SearchValues<char> ValueChars = SearchValues.Create(
        "\t" + string.Concat(Enumerable.Range(0x20, 0x7F - 0x20).Select(c => (char)c)) + string.Concat(Enumerable.Range(0x80, 0x80).Select(c => (char)c)));

    public static Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var problem = Check(context.Request);
        return problem is null ? next(context) : RefuseAsync(context, problem);
    }

    /// <summary>What is wrong with the request's header fields, or null.</summary>
    public static string? Check(HttpRequest request)
    {
        var multiplexed = HttpProtocol.IsHttp2(request.Protocol) || HttpProtocol.IsHttp3(request.Protocol);
        foreach (var (name, values) in request.Headers)
        {
            if (name.Length == 0 || name.AsSpan().ContainsAnyExcept(TokenChars))
            {
                return "A header field name has a character that RFC 9110 §5.1 does not allow in a token.";
            }
            foreach (var value in values)
            {
                if (value is null)
                {
                    continue;
                }
                if (value.AsSpan().ContainsAnyExcept(ValueChars))
                {
                    return $"Header field '{name}' has a control character (RFC 9110 §5.5).";
                }
                if (multiplexed && value.Length > 0 && (value[0] is ' ' or '\t' || value[^1] is ' ' or '\t'))
                {
                    return $"Header field '{name}' starts or ends with whitespace (RFC 9113 §8.2.1).";
                }
            }
            if (multiplexed && IsConnectionSpecific(name, values))
            {
                return $"Header field '{name}' is connection-specific and not allowed in HTTP/2 or HTTP/3 (RFC 9113 §8.2.2).";
            }
        }
        return null;
    }

    private static bool IsConnectionSpecific(string name, Microsoft.Extensions.Primitives.StringValues values) =>
        name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase)
        || name.Equals(HeaderNames.KeepAlive, StringComparison.OrdinalIgnoreCase)
        || name.Equals(HeaderNames.ProxyConnection, StringComparison.OrdinalIgnoreCase)
        || name.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase)
        || name.Equals(HeaderNames.Upgrade, StringComparison.OrdinalIgnoreCase)
        || (name.Equals(HeaderNames.TE, StringComparison.OrdinalIgnoreCase) && !(values.Count == 1 && string.Equals(values[0], "trailers", StringComparison.OrdinalIgnoreCase)));

    private static Task RefuseAsync(HttpContext context, string problem)
    {
        if (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            // The body (if any) belongs to a request nobody will read; end the connection rather than guess at it.
            context.Response.Headers.Connection = "close";
        }
        return GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Malformed header", problem).AsTask();
    }
}
