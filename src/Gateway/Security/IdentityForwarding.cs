using System.Net.Http.Headers;
using System.Security.Claims;
using Yarp.ReverseProxy.Transforms;

namespace Portico.Gateway.Security;

/// <summary>Who a validated caller is, as the gateway tells services: the token's subject, and its roles joined by commas.</summary>
internal readonly record struct ForwardedIdentity(string UserId, string? Roles);

/// <summary>
/// Tells services who the caller is, in headers only the gateway can set: whatever the client sent as
/// <c>X-User-Id</c> or <c>X-User-Roles</c> is dropped, and the validated token's subject and roles take
/// their place. Services still validate the bearer token themselves. Proxied requests, composition steps and
/// gRPC calls (as <c>x-user-id</c>/<c>x-user-roles</c> metadata) all say it the same way.
/// </summary>
internal static class IdentityForwarding
{
    public const string UserIdHeader = "X-User-Id";
    public const string UserRolesHeader = "X-User-Roles";

    public static ValueTask ApplyAsync(RequestTransformContext context)
    {
        Apply(context.ProxyRequest.Headers, Of(context.HttpContext.User));
        return default;
    }

    /// <summary>Replaces whatever <paramref name="headers"/> say of the caller with <paramref name="identity"/> (nothing when null).</summary>
    public static void Apply(HttpRequestHeaders headers, ForwardedIdentity? identity)
    {
        headers.Remove(UserIdHeader);
        headers.Remove(UserRolesHeader);
        if (identity is { } caller)
        {
            headers.TryAddWithoutValidation(UserIdHeader, caller.UserId);
            if (caller.Roles is { } roles)
            {
                headers.TryAddWithoutValidation(UserRolesHeader, roles);
            }
        }
    }

    /// <summary>The identity to tell services: null unless the caller is signed in with a subject.</summary>
    public static ForwardedIdentity? Of(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true || user.FindFirstValue("sub") is not { Length: > 0 } subject)
        {
            return null;
        }
        string? roles = null; // usually one role: no joining, no LINQ on the request path
        foreach (var role in user.FindAll("role"))
        {
            roles = roles is null ? role.Value : roles + "," + role.Value;
        }
        return new ForwardedIdentity(subject, roles is { Length: > 0 } ? roles : null);
    }
}
