using Microsoft.Net.Http.Headers;

namespace Microsoft.AspNetCore.Builder;

public static class HardeningHeadersApplicationBuilderExtensions
{
    /// <summary>
    /// Identity's own hardening headers on every answer, whether or not the gateway adds its own: it answers only JSON
    /// and never anything to render or frame (ASVS 14.4). <c>nosniff</c>, <c>X-Frame-Options: DENY</c>,
    /// <c>Referrer-Policy: no-referrer</c>, a CSP that allows nothing, and <c>Cross-Origin-Resource-Policy: same-site</c>.
    /// </summary>
    public static IApplicationBuilder UseIdentityHardeningHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers[HeaderNames.ContentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Cross-Origin-Resource-Policy"] = "same-site";
            return next(context);
        });
}
