using System.Security.Claims;
using Yarp.ReverseProxy.Transforms;

namespace Portico.Gateway.Security;

/// <summary>
/// Tells services who the caller is, in headers only the gateway can set: whatever the client sent as
/// <c>X-User-Id</c> or <c>X-User-Roles</c> is dropped, and the validated token's subject and roles take
/// their place. Services still validate the bearer token themselves.
/// </summary>
internal static class IdentityForwarding
{
    public const string UserIdHeader = "X-User-Id";
    public const string UserRolesHeader = "X-User-Roles";

    public static ValueTask ApplyAsync(RequestTransformContext context)
    {
        var headers = context.ProxyRequest.Headers;
        headers.Remove(UserIdHeader);
        headers.Remove(UserRolesHeader);
        var (userId, roles) = Describe(context.HttpContext.User);
        if (userId is not null)
        {
            headers.TryAddWithoutValidation(UserIdHeader, userId);
        }
        if (roles is not null)
        {
            headers.TryAddWithoutValidation(UserRolesHeader, roles);
        }
        return default;
    }

    /// <summary>The values of <see cref="UserIdHeader"/> and <see cref="UserRolesHeader"/> for a caller; null where a header is not sent.</summary>
    public static (string? UserId, string? Roles) Describe(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true || user.FindFirstValue("sub") is not { Length: > 0 } subject)
        {
            return (null, null);
        }
        string? roles = null; // usually one role: no joining, no LINQ on the request path
        foreach (var role in user.FindAll("role"))
        {
            roles = roles is null ? role.Value : roles + "," + role.Value;
        }
        return (subject, roles is { Length: > 0 } ? roles : null);
    }
}
