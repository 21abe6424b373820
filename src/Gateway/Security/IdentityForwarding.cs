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

        var user = context.HttpContext.User;
        if (user.Identity?.IsAuthenticated == true && user.FindFirstValue("sub") is { Length: > 0 } subject)
        {
            headers.TryAddWithoutValidation(UserIdHeader, subject);
            string? roles = null; // usually one role: no joining, no LINQ on the request path
            foreach (var role in user.FindAll("role"))
            {
                roles = roles is null ? role.Value : roles + "," + role.Value;
            }
            if (roles is { Length: > 0 })
            {
                headers.TryAddWithoutValidation(UserRolesHeader, roles);
            }
        }
        return default;
    }
}
