using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;
using Portico.ServiceDefaults.Authentication;

namespace Portico.Gateway.Security;

/// <summary>
/// Authentication and authorization, each done only when there is something to do. A request to an anonymous
/// endpoint without a token skips both: there is no identity to find and no policy to check, yet the two steps
/// would create a request service scope, a handler and an items dictionary (about 2.5 KB per request,
/// measured). A token that already validated, is still fresh and is not revoked (<see cref="CachingTokenHandler"/>,
/// which asks the revocation list: one dictionary lookup) becomes the caller's identity at once, without the JWT
/// handler (about 6 KB per request). Authorization then runs,
/// except where its answer is already known: an anonymous endpoint lets anyone through, and an endpoint with no
/// authorization metadata of its own falls back to "any signed-in user" (checked at start), which that identity is. Anything else takes the full path,
/// which is also where a first sight of a token is validated and remembered.
/// </summary>
internal static class IdentityPipeline
{
    private const string BearerPrefix = "Bearer ";

    public static void UseIdentity(this IApplicationBuilder app)
    {
        var tokens = app.ApplicationServices.GetService<CachingTokenHandler>(); // null without AddJwtAuthentication
        var fallbackIsSignedIn = FallbackIsAnySignedInUser(app.ApplicationServices.GetRequiredService<IAuthorizationPolicyProvider>());
        var full = app.New();
        full.UseAuthentication();
        full.UseAuthorization();
        var authorizeOnly = app.New();
        authorizeOnly.UseAuthorization();
        // WebApplication puts both middlewares in front of routing itself unless its own properties say they
        // were added; they were, to these branches, whose properties are copies.
        foreach (var (key, value) in full.Properties)
        {
            app.Properties.TryAdd(key, value);
        }
        app.Use(next =>
        {
            full.Run(next);
            authorizeOnly.Run(next);
            var authenticateAndAuthorize = full.Build();
            var authorize = authorizeOnly.Build();
            return context =>
            {
                var header = context.Request.Headers[HeaderNames.Authorization];
                if (header.Count == 0)
                {
                    return AllowsAnonymous(context.GetEndpoint()) ? next(context) : authenticateAndAuthorize(context);
                }
                if (header.Count == 1 && header[0] is { } value && value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
                    && tokens is not null && tokens.TryGetValidated(value[BearerPrefix.Length..].Trim(), out var identity))
                {
                    context.User = new ClaimsPrincipal(identity);
                    var endpoint = context.GetEndpoint();
                    return AllowsAnonymous(endpoint) || (fallbackIsSignedIn && HasNoAuthorizationMetadata(endpoint)) ? next(context) : authorize(context);
                }
                return authenticateAndAuthorize(context);
            };
        });
    }

    /// <summary>Authorization lets anyone through such an endpoint, so there is nothing for it to decide.</summary>
    private static bool AllowsAnonymous(Endpoint? endpoint) => endpoint?.Metadata.GetMetadata<IAllowAnonymous>() is not null;

    /// <summary>True when an endpoint leaves its authorization to the fallback policy (and to nothing else).</summary>
    private static bool HasNoAuthorizationMetadata(Endpoint? endpoint) =>
        endpoint is not null
        && endpoint.Metadata.GetMetadata<IAuthorizeData>() is null
        && endpoint.Metadata.GetMetadata<IAuthorizationRequirementData>() is null
        && endpoint.Metadata.GetMetadata<AuthorizationPolicy>() is null
        && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null;

    /// <summary>Whether the fallback policy asks for exactly one thing: an authenticated caller, by any scheme.</summary>
    private static bool FallbackIsAnySignedInUser(IAuthorizationPolicyProvider policies)
    {
        var fallback = policies.GetFallbackPolicyAsync().GetAwaiter().GetResult(); // start-up only
        return fallback is { AuthenticationSchemes.Count: 0, Requirements: [DenyAnonymousAuthorizationRequirement] };
    }
}
