using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Configuration;
using Portico.Gateway.RateLimiting;

namespace Microsoft.Extensions.DependencyInjection;

internal static class RateLimitingBuilderExtensions
{
    /// <summary>
    /// Adds the named policies of <c>Portico:RateLimiting:Policies</c> in the gateway file, which routes pick with the
    /// metadata <c>Portico.RateLimit</c> and which change with the file (<see cref="RateLimitingMiddleware"/>). YARP's own
    /// <c>RateLimiterPolicy</c> still names ASP.NET Core policies registered in code. Rejections are 429 problem+json
    /// with <c>Retry-After</c>.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoRateLimiting(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, RateLimitingConfigSection>());
        services.AddSingleton(SettingHome.GatewayFile("Portico:RateLimiting"));
        services.TryAddSingleton<RateLimitingMiddleware>();
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
        });
        return builder;
    }

    private static ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken cancellationToken) =>
        new(RateLimitingMiddleware.RejectAsync(context.HttpContext, context.Lease));
}
