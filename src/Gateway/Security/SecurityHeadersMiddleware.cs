using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Security;

/// <summary>
/// Hardening headers on every answer. They describe an API, not pages: nothing may frame or script it,
/// browsers must not sniff types, and no referrer leaves. HSTS only over HTTPS, where it means something.
/// </summary>
internal sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
    /// <summary>What a service says about its own software stays behind the gateway: removed from proxied answers.</summary>
    public static readonly string[] HiddenUpstreamHeaders = ["Server", "X-Powered-By"];

    public Task InvokeAsync(HttpContext context)
    {
        // Added as the answer starts, and only where the answer has no such field: an origin's own X-Frame-Options or
        // Content-Security-Policy is its decision, and a second value beside it would be a contradiction.
        context.Response.OnStarting(static state =>
        {
            var context = (HttpContext)state;
            var headers = context.Response.Headers;
            AddIfAbsent(headers, "X-Content-Type-Options", "nosniff");
            AddIfAbsent(headers, "X-Frame-Options", "DENY");
            AddIfAbsent(headers, "Referrer-Policy", "no-referrer");
            AddIfAbsent(headers, "Cross-Origin-Resource-Policy", "same-site");
            if (!context.Request.Path.StartsWithSegments("/portico"))
            {
                AddIfAbsent(headers, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
            }
            if (context.Request.IsHttps)
            {
                AddIfAbsent(headers, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
            }
            return Task.CompletedTask;
        }, context);
        return next(context);
    }

    private static void AddIfAbsent(IHeaderDictionary headers, string name, string value)
    {
        if (!headers.ContainsKey(name))
        {
            headers[name] = value;
        }
    }
}
