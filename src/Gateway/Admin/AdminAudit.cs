using System.Security.Claims;
using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Admin;

/// <summary>
/// The audit trail of the admin surface: one line per write (drain, purge, config applied …) naming the admin by user
/// id, under the <c>Portico.Gateway.Admin.AdminAudit</c> category, so it can be kept apart from the rest of the log.
/// </summary>
internal sealed partial class AdminAudit
{
    /// <summary>The admin's user id (the token's <c>sub</c>).</summary>
    public static string UserId(ClaimsPrincipal user) => user.FindFirstValue("sub") ?? user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "(unknown)";

    public static void Write(ILogger logger, ClaimsPrincipal user, string action, string target) => Audit(logger, UserId(user), action, target);

    [LoggerMessage(2400, LogLevel.Information, "Admin {UserId} did {Action} on {Target}.")]
    private static partial void Audit(ILogger logger, string userId, string action, string target);
}
