using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Security;

/// <summary>
/// Hardening headers on every answer. They describe an API, not pages: nothing may frame or script it,
/// browsers must not sniff types, and no referrer leaves. HSTS only over HTTPS, where it means something.
/// </summary>
internal sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
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
