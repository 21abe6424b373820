namespace Portico.Loyalty.Apis;

public static class LoyaltyApi
{
    /// <summary>
    /// Maps the <c>loyalty.v1.Loyalty</c> service, gRPC server reflection and the standard gRPC health service
    /// (<c>grpc.health.v1.Health</c>). Reflection and health need no token: the gateway and probes read them.
    /// </summary>
    public static IEndpointRouteBuilder MapLoyaltyGrpc(this IEndpointRouteBuilder app)
    {
        app.MapGrpcService<LoyaltyGrpcService>();
        app.MapGrpcReflectionService().AllowAnonymous();
        app.MapGrpcHealthChecksService().AllowAnonymous();
        return app;
    }
}
