using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Routing;

/// <summary>Whether a request may be sent to a destination more than once, and what a client is told when it failed.</summary>
internal static class RequestSafety
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>
    /// RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent; any other method is only when the
    /// client names it with an <c>Idempotency-Key</c> that the service honours.
    /// </summary>
    public static bool IsIdempotent(HttpRequest request)
    {
        var method = request.Method;
        return HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method)
            || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || request.Headers.ContainsKey(IdempotencyKeyHeader);
    }

    /// <summary>
    /// Appended to a failure's detail when a non-idempotent request reached the destination and no answer came
    /// back: the gateway never sends it again, so the client must find out before repeating it.
    /// </summary>
    public static string UnknownOutcome(HttpRequest request) => IsIdempotent(request) ? "" :
        $" The {request.Method} was not sent again: it may or may not have been applied. Check before repeating it, or send it with an {IdempotencyKeyHeader}.";
}
