using Microsoft.AspNetCore.Http.HttpResults;
using Portico.Loyalty.Reconciliation;

namespace Portico.Loyalty.Apis;

public static class AdminApi
{
    /// <summary>
    /// Maps <c>POST /admin/reconcile[?full=true]</c> (one reconciler pass now: 200 with its report, 503 when Ordering could
    /// not be read) and the dead-letter endpoints of Loyalty's queue, for the <see cref="LoyaltyPolicies.Admin"/> policy.
    /// </summary>
    public static IEndpointRouteBuilder MapLoyaltyAdmin(this IEndpointRouteBuilder app)
    {
        app.MapPost("/admin/reconcile", ReconcileAsync).WithTags("Loyalty admin").WithName("Reconcile").RequireAuthorization(LoyaltyPolicies.Admin);
        app.MapDeadLetters().RequireAuthorization(LoyaltyPolicies.Admin);
        return app;
    }

    internal static async Task<Results<Ok<ReconcileReport>, ProblemHttpResult>> ReconcileAsync(Reconciler reconciler, bool? full, CancellationToken cancellationToken)
    {
        var report = await reconciler.RunAsync(full ?? false, cancellationToken);
        return report.Complete
            ? TypedResults.Ok(report)
            : TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Reconciliation incomplete",
                detail: $"{report.Error} Repairs made before it stopped: {report.Accrued} accrued, {report.Reverted} reverted.");
    }
}
