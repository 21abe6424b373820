using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Configuration;
using Portico.Gateway.OpenApi;
using Scalar.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

internal static class OpenApiBuilderExtensions
{
    /// <summary>The merged public document's path, the same as every service's own.</summary>
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>The reference page for people.</summary>
    public const string DocsPath = "/docs";

    private const string DocsContentSecurityPolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        + "connect-src 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Adds the public OpenAPI document (<c>Portico:OpenApi</c> in the gateway file): each documented cluster's own document
    /// fetched in the background and merged with the routes, compositions and job routes.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoOpenApi(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, OpenApiConfigSection>());
        services.AddSingleton(SettingHome.GatewayFile(OpenApiConfigSection.SectionPath));
        services.TryAddSingleton<ServiceDocuments>();
        services.AddHostedService(sp => sp.GetRequiredService<ServiceDocuments>());
        services.TryAddSingleton<MergedOpenApi>();
        return builder;
    }

    /// <summary>Maps <c>GET /openapi/v1.json</c> (the merged document, with an ETag) and Scalar's page at <c>/docs</c>, both open to anyone.</summary>
    public static IEndpointRouteBuilder MapPorticoOpenApi(this IEndpointRouteBuilder app)
    {
        var merged = app.ServiceProvider.GetRequiredService<MergedOpenApi>();
        app.MapGet(DocumentPath, async context =>
        {
            var document = await merged.GetAsync(context.RequestAborted);
            context.Response.Headers.ETag = document.ETag;
            context.Response.Headers.CacheControl = "no-cache";
            if (context.Request.Headers.IfNoneMatch.Contains(document.ETag))
            {
                context.Response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(document.Json, context.RequestAborted);
        }).AllowAnonymous().ExcludeFromDescription();
        app.MapScalarApiReference(DocsPath, options => options
            .WithTitle("Portico API")
            .WithOpenApiRoutePattern(DocumentPath)).AllowAnonymous()
            .Add(endpoint =>
            {
                // The gateway's default CSP allows nothing; the page needs its own scripts and styles, and to fetch the document.
                var page = endpoint.RequestDelegate!;
                endpoint.RequestDelegate = context =>
                {
                    context.Response.Headers.ContentSecurityPolicy = DocsContentSecurityPolicy;
                    return page(context);
                };
            });
        return app;
    }
}
