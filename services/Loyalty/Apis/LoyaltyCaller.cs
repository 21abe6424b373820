using System.Security.Claims;
using Grpc.Core;

namespace Portico.Loyalty.Apis;

/// <summary>Who is calling, from the validated access token, and which user's points they may read.</summary>
internal static class LoyaltyCaller
{
    /// <summary>Roles that act for the system rather than for one user; they name the user explicitly.</summary>
    public static readonly string[] ServiceRoles = ["service", "admin"];

    public static bool IsService(ClaimsPrincipal caller) => ServiceRoles.Any(caller.IsInRole);

    /// <summary>
    /// The user whose points a read is about. A service names the user in <paramref name="requestedUserId"/>;
    /// a user reads their own points: an empty <paramref name="requestedUserId"/> means the token's <c>sub</c>,
    /// and any other user's id is PERMISSION_DENIED.
    /// </summary>
    public static string ResolveReadUser(ServerCallContext context, string requestedUserId, string field)
    {
        var caller = context.GetHttpContext().User;
        if (IsService(caller))
        {
            if (Ledger.LedgerRules.CheckId(requestedUserId, field) is { } problem)
            {
                throw FieldViolations.For(field, problem);
            }
            return requestedUserId;
        }

        var subject = caller.FindFirstValue("sub");
        if (string.IsNullOrEmpty(subject))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "The access token names no user (no 'sub' claim)."));
        }
        if (requestedUserId.Length > 0 && !string.Equals(requestedUserId, subject, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"A user may read only their own points: leave {field} empty or set it to your own id."));
        }
        return subject;
    }
}
