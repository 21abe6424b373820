using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portico.Gateway.Routing;
using Portico.ServiceDefaults.Logging;

namespace Portico.Gateway.Admin;

/// <summary>
/// The door of the admin surface (<c>{PathPrefix}</c> and everything under it), checked before authentication so that
/// no token changes the answer: a caller that is not on loopback gets 403 unless <c>Portico:Admin:AllowRemote</c>, and a
/// token (or any secret) in the query string is refused with 400 whoever sends it, since query strings end up in logs,
/// browser history and referrers. Other paths pay one prefix comparison.
/// </summary>
internal static class AdminAccess
{
    public static IApplicationBuilder UsePorticoAdminAccess(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<AdminOptions>>().Value;
        var prefix = new PathString(options.PathPrefix);
        return app.Use((context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return next(context);
            }
            if (!options.AllowRemote && !IsLoopback(context.Connection.RemoteIpAddress))
            {
                return GatewayProblems.WriteAsync(context, StatusCodes.Status403Forbidden, "Admin is loopback only",
                    "The admin surface answers callers on this machine only (Portico:Admin:AllowRemote is off).").AsTask();
            }
            foreach (var (name, _) in context.Request.Query)
            {
                if (LogRedaction.IsSecretName(name) || name.Equals("jwt", StringComparison.OrdinalIgnoreCase))
                {
                    return GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Token in query string",
                        $"The query parameter '{name}' looks like a credential; send the token in the Authorization header instead.").AsTask();
                }
            }
            return next(context);
        });
    }

    private static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
}
