using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Portico.ServiceDefaults.Hardening;

/// <summary>
/// <c>Portico:HardeningHeaders</c>: the response headers every service adds (ASVS 14.4). On by default; the gateway
/// turns them off in favour of its own (<c>Portico:Security:HardeningHeaders</c>), which leave a cached answer's
/// headers as the origin sent them.
/// </summary>
public sealed record HardeningHeadersOptions
{
    public const string SectionName = "Portico:HardeningHeaders";

    public bool Enabled { get; set; } = true;
}

/// <summary>
/// Adds, as an answer starts and only where the endpoint set no such header itself: <c>X-Content-Type-Options:
/// nosniff</c>, <c>X-Frame-Options: DENY</c>, <c>Referrer-Policy: no-referrer</c>, a CSP that allows nothing
/// (<c>default-src 'none'; frame-ancestors 'none'</c>: the services answer JSON, gRPC and text, never a page), and
/// <c>Cross-Origin-Resource-Policy: same-site</c>. To an answer to a request that carried credentials
/// (<c>Authorization</c>) and says nothing about caching, <c>Cache-Control: no-store</c> (ASVS 8.2.1): what one caller's
/// token unlocked is kept by no cache. Public answers without credentials are left alone, so a shared cache (the
/// gateway) may still keep them by its rules, and an endpoint's own <c>Cache-Control</c> (Catalog's products, Weather,
/// Identity's key set) is never replaced.
/// </summary>
internal static class HardeningHeaders
{
    public const string ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

    public static Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        context.Response.OnStarting(static state =>
        {
            var context = (HttpContext)state;
            var headers = context.Response.Headers;
            AddIfAbsent(headers, HeaderNames.XContentTypeOptions, "nosniff");
            AddIfAbsent(headers, HeaderNames.XFrameOptions, "DENY");
            AddIfAbsent(headers, "Referrer-Policy", "no-referrer");
            AddIfAbsent(headers, HeaderNames.ContentSecurityPolicy, ContentSecurityPolicy);
            AddIfAbsent(headers, "Cross-Origin-Resource-Policy", "same-site");
            if (context.Request.Headers.ContainsKey(HeaderNames.Authorization))
            {
                AddIfAbsent(headers, HeaderNames.CacheControl, "no-store");
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

/// <summary>Puts <see cref="HardeningHeaders"/> in front of every service's pipeline, so no Program.cs has to remember it.</summary>
internal sealed class HardeningHeadersStartupFilter(IOptions<HardeningHeadersOptions> options) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        if (options.Value.Enabled)
        {
            app.Use(HardeningHeaders.InvokeAsync);
        }
        next(app);
    };
}
