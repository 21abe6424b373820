using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Portico.Gateway.Security;

/// <summary>
/// Authentication and authorization, skipped for a request to an anonymous endpoint that carries no token:
/// there is no identity to find and no policy to check, yet the two steps would create a request service
/// scope, an authentication handler and an items dictionary for it (about 2.5 KB per request, measured).
/// An anonymous endpoint called with a token still authenticates, so identity forwarding and per-user rate
/// limits see the caller.
/// </summary>
internal static class IdentityPipeline
{
    public static void UseIdentity(this IApplicationBuilder app)
    {
        var secured = app.New();
        secured.UseAuthentication();
        secured.UseAuthorization();
        // WebApplication puts both middlewares in front of routing itself unless its own properties say they
        // were added; they were, to this branch, whose properties are a copy.
        foreach (var (key, value) in secured.Properties)
        {
            app.Properties.TryAdd(key, value);
        }
        app.Use(next =>
        {
            secured.Run(next);
            var branch = secured.Build();
            return context => IsAnonymousWithoutToken(context) ? next(context) : branch(context);
        });
    }

    private static bool IsAnonymousWithoutToken(HttpContext context) =>
        !context.Request.Headers.ContainsKey(HeaderNames.Authorization)
        && context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null;
}
