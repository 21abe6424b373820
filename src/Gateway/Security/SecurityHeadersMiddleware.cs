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
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Resource-Policy"] = "same-site";
        if (!context.Request.Path.StartsWithSegments("/portico"))
        {
            headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
        }
        if (context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
        }
        return next(context);
    }
}
