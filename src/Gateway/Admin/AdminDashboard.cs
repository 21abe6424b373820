using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Admin;

/// <summary>
/// The dashboard at <c>{PathPrefix}/</c>: three static files (HTML, CSS, JavaScript) embedded in this assembly, no build
/// step. The page itself holds no data and needs no token (it asks for one and keeps it in memory); everything it shows
/// comes from the admin API. Served with a strict Content-Security-Policy: its own scripts and styles, its own origin.
/// </summary>
internal static class AdminDashboard
{
    private static readonly Dictionary<string, (string ContentType, byte[] Body, string ETag)> Files = Load();

    public static IEndpointRouteBuilder MapPorticoDashboard(this IEndpointRouteBuilder endpoints)
    {
        var prefix = endpoints.ServiceProvider.GetRequiredService<IOptions<AdminOptions>>().Value.PathPrefix;
        var group = endpoints.MapGroup(prefix).AllowAnonymous().WithMetadata(ExcludeFromLiveRequests.Instance).ExcludeFromDescription();
        // One endpoint for "/portico" and "/portico/" (routing does not tell them apart); the page's relative links need the slash.
        group.MapGet("/", (HttpContext context) => context.Request.Path.Value?.EndsWith('/') == true
            ? Serve(context, "index.html")
            : Results.Redirect(context.Request.PathBase + prefix + "/"));
        group.MapGet("/{file:regex(^[a-z]+\\.(css|js)$)}", (string file, HttpContext context) => Serve(context, file));
        return endpoints;
    }

    private static IResult Serve(HttpContext context, string name)
    {
        if (!Files.TryGetValue(name, out var file))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such file", detail: $"The dashboard has no file '{name}'.");
        }
        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.ETag = file.ETag;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
        if (context.Request.Headers.IfNoneMatch == file.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        return Results.Bytes(file.Body, file.ContentType);
    }

    private static Dictionary<string, (string, byte[], string)> Load()
    {
        var assembly = typeof(AdminDashboard).Assembly;
        var files = new Dictionary<string, (string, byte[], string)>(StringComparer.Ordinal);
        foreach (var (name, type) in new[] { ("index.html", "text/html; charset=utf-8"), ("dashboard.css", "text/css; charset=utf-8"), ("dashboard.js", "text/javascript; charset=utf-8") })
        {
            using var stream = assembly.GetManifestResourceStream("Portico.Gateway.Admin.Dashboard." + name)
                ?? throw new InvalidOperationException($"The dashboard file '{name}' is not embedded in {assembly.GetName().Name}.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var body = copy.ToArray();
            files[name] = (type, body, $"\"{Convert.ToHexStringLower(SHA256.HashData(body))[..16]}\"");
        }
        return files;
    }
}

internal static class AdminServiceCollectionExtensions
{
    /// <summary>The admin surface's settings (<c>Portico:Admin</c>, checked at start) and the services behind its API.</summary>
    public static IServiceCollection AddPorticoAdmin(this IServiceCollection services)
    {
        services.AddHostSettings<AdminOptions, AdminOptionsValidator>(AdminOptions.SectionName);
        services.TryAddSingleton<AdminViews>();
        services.TryAddSingleton<AdminLiveFeed>();
        services.AddPorticoAdminOpenApi();
        return services;
    }
}
